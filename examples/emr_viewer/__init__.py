"""Example EMR viewer: Flask, log-in, patient list, record pages, both marks, access ledger.

Start it from the repository root with ``python -m examples.emr_viewer``
(see ``--help``); build it in code with :func:`create_app`.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
