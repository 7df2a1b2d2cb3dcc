"""``trace-leak``: who displayed the screen in this leaked image?

Exit codes: 0 every image traced, 1 some image had no (decodable) mark,
2 an error (unreadable image, bad key file, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from watermark import Key, WatermarkError

from ._load import DEFAULT_MAX_PIXELS
from ._trace import TraceResult, trace

__all__ = ["main"]

EPILOG = """examples:
  trace-leak leaked.jpg --key-file hospital.key
  trace-leak a.jpg b.png --key-file 2026.key --key-file 2025.key --json

exit status: 0 every image traced, 1 some image carried no readable mark, 2 error
"""


def _describe(result: TraceResult) -> str:
    if not result.found or result.payload is None:
        return (
            f"{result.source}: no watermark found (best detection score {result.detection_score:.1f}; "
            f"{len(result.hypotheses)} hypotheses tried)"
        )
    p = result.payload
    return (
        f"{result.source}: viewer {p.viewer_id} at {p.timestamp.strftime('%Y-%m-%dT%H:%MZ')} "
        f"(key {result.key_fingerprint}; false-attribution probability <= {result.false_attribution_probability:.1e})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="trace-leak",
        description="Recover the viewer ID and time stamped into a leaked screenshot or photo of a screen.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path, help="leaked image file(s)")
    parser.add_argument("--key-file", action="append", type=Path, required=True, help="key file; repeat for rotated keys")
    parser.add_argument("--json", action="store_true", help="print one JSON document with every result")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        keys = [Key.from_file(path) for path in args.key_file]
    except WatermarkError as exc:
        print(f"trace-leak: error: {exc}", file=sys.stderr)
        return 2
    status = 0
    records = []
    for path in args.images:
        try:
            result = trace(path, keys, max_pixels=args.max_pixels)
        except WatermarkError as exc:
            print(f"trace-leak: error: {exc}", file=sys.stderr)
            records.append({"source": str(path), "error": str(exc)})
            status = 2
            continue
        records.append(result.to_dict())
        if not result.found:
            status = max(status, 1)
        if not args.json:
            print(_describe(result))
    if args.json:
        json.dump({"results": records, "exit_status": status}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
