"""Server-side rendering example: a record exported as a PNG page image, stamped.

When the viewer renders the screen itself (a record exported or printed as
an image, a thin-client frame, a report preview), there is no browser to lay
an overlay on: the server records the view, embeds the invisible mark into
the pixels with ``watermark.embed`` and then draws the visible mark on top
with ``watermark.visible_mark``. The order matters: the visible text is
content to the decoder, so the invisible mark under and between its strokes
still decodes.

Run from the repository root::

    python examples/render_export.py --key-file demo-out/hospital.key \\
        --ledger demo-out/ledger.sqlite --ledger-key demo-out/ledger.key --out demo-out/export.png

It records the export in the ledger, writes the stamped PNG, traces it back
and prints the ledger join. The example viewer's "Export page as PNG" link
uses :func:`render_record_image` and :func:`stamp_export` from here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import watermark  # noqa: E402
from synthetic import patient, render_screen  # noqa: E402
from ledger import Ledger, LedgerError, LedgerKey, View, format_ledger_join  # noqa: E402

__all__ = ["render_record_image", "stamp_export", "main"]


def render_record_image(seed: int, *, size: tuple[int, int] = (1920, 1080), kind: str = "summary_dashboard") -> NDArray[np.uint8]:
    """Render the record page of the invented patient ``seed`` as an RGB image.

    Parameters
    ----------
    seed : int
        The patient (``examples.emr_viewer.records.Patient.seed``).
    size : (int, int), keyword-only
        ``(width, height)`` in pixels.
    kind : str, keyword-only
        A ``synthetic.SCREEN_KINDS`` layout.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)
    """
    return render_screen(kind, size=size, seed=seed)


def stamp_export(
    image: NDArray[np.uint8], view: View, key: watermark.Key, *, label: str = watermark.DEFAULT_VISIBLE_LABEL
) -> Image.Image:
    """Stamp a server-rendered page for a recorded view: invisible mark, then visible mark.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
        The rendered page, at least 256x256.
    view : ledger.View
        The ledger row of this export (``Ledger.record_view(..., action="export")``);
        its payload (viewer and minute) is what the mark carries.
    key : watermark.Key
        The hospital's key; its fingerprint should be the view's.
    label : str, keyword-only
        Notice in the visible mark.

    Returns
    -------
    PIL.Image.Image
        RGB; save it losslessly (PNG) or as a high-quality JPEG.

    Raises
    ------
    ValueError
        If ``key`` is not the key the view was recorded under.
    """
    if view.key_fingerprint != key.fingerprint:
        raise ValueError(f"view {view.view_id} was recorded under key {view.key_fingerprint}, not {key.fingerprint}")
    marked = watermark.embed(image, view.payload, key)
    text = watermark.visible_mark_text(view.display_name, view.viewer_id, view.viewed_at, label=label)
    return Image.fromarray(watermark.visible_mark(marked, text))


def main(argv: Sequence[str] | None = None) -> int:
    """Record, render, stamp and save one export; trace it back and print the ledger join."""
    parser = argparse.ArgumentParser(description="Export an invented patient's record as a stamped PNG page image.")
    parser.add_argument("--key-file", type=Path, required=True, help="watermark key (created if missing)")
    parser.add_argument("--ledger", required=True, help="ledger URL or path (SQLite file created if missing)")
    parser.add_argument("--ledger-key", type=Path, required=True,
                        help="the ledger's private signing key (created if missing, with its .pub beside it)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--seed", type=int, default=5, help="invented patient (default %(default)s)")
    parser.add_argument("--viewer-id", type=int, default=4821)
    parser.add_argument("--display-name", default="Dr. Anselm Quist")
    parser.add_argument("--workstation", default="WS-4B-112")
    parser.add_argument("--client-address", default="127.0.0.1")
    args = parser.parse_args(argv)

    # Imported here so that importing this module stays light for the viewer.
    import tracer

    try:
        if not args.key_file.exists():
            watermark.Key.generate().save(args.key_file)
        key = watermark.Key.from_file(args.key_file)
        if not args.ledger_key.exists():
            signing = LedgerKey.generate()
            signing.save(args.ledger_key)
            signing.save(f"{args.ledger_key}.pub", public=True, overwrite=True)
        image = render_record_image(args.seed)
        with Ledger.open(args.ledger, ledger_key=args.ledger_key) as ledger:
            view = ledger.record_view(
                viewer_id=args.viewer_id, display_name=args.display_name, record_id=f"MRN {patient(args.seed)['mrn']}",
                workstation=args.workstation, client_address=args.client_address,
                key_fingerprint=key.fingerprint, action="export",
            )
            stamp_export(image, view, key).save(args.out)
            print(f"recorded export as ledger view #{view.view_id}; wrote {args.out}")
            result = tracer.trace(args.out, key)
            if not result.found or result.payload is None:
                print("trace: no watermark found", file=sys.stderr)
                return 1
            p = result.payload
            print(f"trace: viewer {p.viewer_id} at {p.timestamp:%Y-%m-%dT%H:%MZ} (key {result.key_fingerprint})")
            print(format_ledger_join(ledger.lookup(p.viewer_id, p.timestamp, key_fingerprint=result.key_fingerprint)))
    except (watermark.WatermarkError, LedgerError, OSError) as exc:
        print(f"render_export: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
