"""Command-line tools for trying the mark by hand: ``leaktrace-keygen`` and ``leaktrace-embed``.

Exit codes: 0 success, 2 error (bad arguments, unreadable file, bad key).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._embed import embed
from ._errors import ImageLoadError, LeaktraceError, OptionError
from ._key import Key
from ._load import load_image
from ._payload import Payload

__all__ = ["main", "keygen_main"]


def keygen_main(argv: Sequence[str] | None = None) -> int:
    """``leaktrace-keygen PATH [--force]``: write a new secret key."""
    parser = argparse.ArgumentParser(
        prog="leaktrace-keygen",
        description="Generate a new 256-bit watermark key (file mode 0600).",
        epilog="example: leaktrace-keygen hospital.key",
    )
    parser.add_argument("path", type=Path, help="where to write the key")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)
    key = Key.generate()
    try:
        key.save(args.path, overwrite=args.force)
    except LeaktraceError as exc:
        print(f"leaktrace-keygen: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.path} (fingerprint {key.fingerprint})")
    return 0


def _parse_time(text: str) -> datetime:
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {text}Z or {text}+01:00")
    return value


def _write_atomically(image: Any, output: Path) -> None:
    """Save through a temporary file beside ``output``: a failed write leaves nothing behind."""
    from PIL import Image

    tmp = output.with_name(output.name + ".partial")
    try:
        image.save(tmp, format=Image.registered_extensions().get(output.suffix.lower(), "PNG"))
        tmp.replace(output)
    except (OSError, ValueError) as exc:
        raise ImageLoadError(f"cannot write {str(output)!r}: {exc}", path=str(output), reason="cannot be written") from None
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``leaktrace-embed IN OUT --key-file K --viewer-id N [--time T] [--strength S]``."""
    parser = argparse.ArgumentParser(
        prog="leaktrace-embed",
        description="Stamp an image with an invisible mark of a viewer ID and a time.",
        epilog="example: leaktrace-embed screen.png marked.png --key-file hospital.key --viewer-id 4821 --time 2026-03-01T09:30Z",
    )
    parser.add_argument("input", type=Path, help="image to stamp (PNG, JPEG, ...)")
    parser.add_argument("output", type=Path, help="where to write the marked image (PNG recommended)")
    parser.add_argument("--key-file", type=Path, required=True, help="key written by leaktrace-keygen")
    parser.add_argument("--viewer-id", type=int, required=True, help="viewer ID, 0..4294967295")
    parser.add_argument("--time", type=_parse_time, default="now", help="ISO 8601 time with zone, or 'now' (default)")
    parser.add_argument("--strength", type=float, default=1.0, help="amplitude multiplier (default 1.0)")
    parser.add_argument("--force", action="store_true", help="overwrite the output file")
    args = parser.parse_args(argv)
    from PIL import Image

    try:
        if args.output.exists() and not args.force:
            raise OptionError(f"{args.output} exists; pass --force to overwrite it", name="output", value=str(args.output))
        key = Key.from_file(args.key_file)
        payload = Payload(viewer_id=args.viewer_id, timestamp=args.time)
        loaded = load_image(args.input, alpha="keep")
        image = loaded.rgb if loaded.alpha is None else np.dstack([loaded.rgb, loaded.alpha])
        marked = embed(image, payload, key, strength=args.strength)
        _write_atomically(Image.fromarray(marked), args.output)
    except LeaktraceError as exc:
        print(f"leaktrace-embed: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: viewer {payload.viewer_id}, {payload.timestamp.isoformat()}, key {key.fingerprint}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
