"""Sphinx configuration of the leaktrace documentation (``make docs``).

Why Sphinx, numpydoc and sphinx-gallery: the docstrings of ``watermark``,
``tracer``, ``ledger`` and ``synthetic`` are already numpydoc (Parameters,
Returns, Notes, Examples), and this is the stack of the imaging libraries
the project takes as models (scikit-image, PyWavelets): an API reference
generated from those docstrings, and a gallery of scripts that run at every
build, so a figure in the docs is what the code does today. MkDocs with
mkdocstrings reads numpydoc too, but its gallery plugins are younger and
would not run the examples the way sphinx-gallery does.

The build must not need the network (CI reaches only package registries):
there is no intersphinx, and Python and NumPy names are left as text.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
import types
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import watermark  # noqa: E402
from numpydoc.xref import DEFAULT_LINKS  # noqa: E402

project = "leaktrace"
author = "the leaktrace authors"
copyright = "the leaktrace authors"
release = version = watermark.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "examples/*", "**/*.ipynb", "**/*.py", "**/*.zip", "**/*.json", "**/*.md5"]
html_theme = "furo"
html_title = f"leaktrace {release}"
html_static_path: list[str] = []
html_last_updated_fmt = None
html_show_sourcelink = False

# -- API reference ---------------------------------------------------------
# One page per package (docs/api/index.rst lists them), generated from the
# package's __all__ by the template _templates/autosummary/package.rst, then
# one page per public name.
PACKAGES = ["watermark", "watermark.decoding", "tracer", "ledger", "agent", "synthetic", "synthetic.hostile",
            "synthetic.records", "synthetic.scenes_b"]
"""Every module documented: the five packages and the public submodules their __all__ names."""

autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters section says the types; signatures stay short
autodoc_member_order = "bysource"
add_module_names = False

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"  # only the names below become links; ndarray, int, ... stay text (no intersphinx)


def _public_objects() -> dict[str, dict[str, Any]]:
    """Each documented module's public names, by kind, and the names it re-exports from another of ours."""
    api: dict[str, dict[str, Any]] = {}
    homes: dict[int, str] = {}
    for modname in PACKAGES:
        module = importlib.import_module(modname)
        entry: dict[str, Any] = {k: [] for k in ("modules", "classes", "exceptions", "functions", "data", "aliases", "reexports")}
        for name in module.__all__:
            obj = getattr(module, name)
            home = homes.get(id(obj)) if not isinstance(obj, (int, float, str, bool)) else None
            if home is None:
                for other in PACKAGES:
                    if other != modname and other.split(".")[0] != modname.split(".")[0] and name in getattr(sys.modules.get(other), "__all__", ()):
                        if getattr(sys.modules[other], name) is obj and PACKAGES.index(other) < PACKAGES.index(modname):
                            home = other
            if home is not None and home != modname:
                entry["reexports"].append((name, f"{home}.{name}"))
                continue
            if inspect.ismodule(obj):
                entry["modules"].append(name)
            elif isinstance(obj, types.GenericAlias):  # a type alias such as synthetic.records.Drug
                entry["aliases"].append((name, repr(obj), " ".join(_attribute_doc(f"{modname}.{name}") or [])))
            elif inspect.isclass(obj) and issubclass(obj, BaseException):
                entry["exceptions"].append(name)
            elif inspect.isclass(obj):
                entry["classes"].append(name)
            elif callable(obj):
                entry["functions"].append(name)
            else:
                entry["data"].append(name)
            if not isinstance(obj, (int, float, str, bool)):
                homes.setdefault(id(obj), modname)
        api[modname] = entry
    return api


def _attribute_doc(fullname: str) -> list[str] | None:
    """The doc comment of a constant re-exported by a package, read from the private module that defines it."""
    modname, _, name = fullname.rpartition(".")
    module = sys.modules.get(modname)
    if module is None or not hasattr(module, "__path__") and "." not in modname:
        return None
    from sphinx.pycode import ModuleAnalyzer

    candidates = [modname]
    package = modname if hasattr(module, "__path__") else modname.rpartition(".")[0]
    pkg = sys.modules[package]
    candidates += [f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]
    for candidate in candidates:
        try:
            docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        except Exception:  # noqa: BLE001 - a module the analyzer cannot read has no doc comments for us
            continue
        lines = docs.get(("", name))
        if lines:
            sub = importlib.import_module(candidate)
            if getattr(sub, name, object()) is getattr(module, name, None) or getattr(sub, name, None) == getattr(module, name, None):
                return list(lines)
    return None


API = _public_objects()
autosummary_context = {"api": API}

# numpydoc: our class and exception names in Parameters / Returns link to
# their pages. Its defaults link bool, sequence, array_like, ... into the Python
# and NumPy docs through intersphinx, which this build does not use: those
# words stay text.
numpydoc_xref_aliases = {word: word for word in DEFAULT_LINKS}
numpydoc_xref_aliases.update({
    name: f"{modname}.{name}"
    for modname, entry in API.items()
    for kind in ("classes", "exceptions")
    for name in entry[kind]
})


def _process_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    if what in ("data", "attribute") and isinstance(obj, (int, float, str, bool, frozenset, tuple, dict)):
        doc = _attribute_doc(name)
        if doc is not None:
            lines[:] = doc


# -- Gallery ----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("watermark", "tracer", "ledger", "synthetic"),
    "abort_on_example_error": True,
    "show_memory": False,
    "show_signature": False,
}


def setup(app: Any) -> None:
    app.connect("autodoc-process-docstring", _process_docstring)
