"""Example EMR viewer: Flask, log-in, patient list, record pages, both marks, access ledger.

Start it from the repository root with ``python -m examples.emr_viewer``
(see ``--help``); build it in code with :func:`create_app`. Manage its
accounts with ``python -m examples.emr_viewer.accounts`` and its workstations
with ``python -m examples.emr_viewer.workstations``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``python -m examples.emr_viewer.accounts`` runs without importing Flask and the app
    # first (runpy warns when a package has already imported the module it is asked to run).
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
