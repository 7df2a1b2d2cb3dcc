"""Command-line tools for trying the mark by hand: ``leaktrace-keygen`` and ``leaktrace-embed``.

Exit codes: 0 success, 2 error (bad arguments, unreadable or unsuitable
file, bad key). Errors go to stderr as one line each, never as a traceback;
warnings (a key file others can read) and notes as one line each too.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ._embed import embed
from ._errors import ImageLoadError, KeyFileError, LeaktraceError, LeaktraceWarning, OptionError
from ._key import Key
from ._load import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, load_image
from ._payload import Payload

__all__ = ["main", "keygen_main"]


@contextlib.contextmanager
def warnings_to_stderr(prog: str) -> Iterator[None]:
    """Print each LeaktraceWarning as one ``PROG: warning: ...`` line on stderr (others as Python would).

    Both CLIs use it (``trace-leak`` too).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("always", LeaktraceWarning)
        show = warnings.showwarning

        def one_line(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, LeaktraceWarning):
                print(f"{prog}: warning: {message}", file=sys.stderr)
            else:
                show(message, category, *args, **kwargs)

        warnings.showwarning = one_line
        yield


def _int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    return parse


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
    except KeyFileError as exc:
        message = f"{args.path} exists; pass --force to overwrite it" if exc.reason == "exists" else str(exc)
        print(f"leaktrace-keygen: error: {message}", file=sys.stderr)
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


EMBED_EPILOG = """\
The input is read by the same loader as trace-leak's (watermark.load_image),
with the same limits: a regular file of at most --max-bytes, at most
--max-pixels and at least 16 pixels a side. The marked image is written with
8 bits per sample: a 16-bit input (PNG, TIFF) is scaled to 8 bits first (the
mark is added to 8-bit display values), and the tool says so. Transparency is
kept.

example: leaktrace-embed screen.png marked.png --key-file hospital.key --viewer-id 4821 --time 2026-03-01T09:30Z
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``leaktrace-embed IN OUT --key-file K --viewer-id N [--time T] [--strength S] [--max-bytes N] [--max-pixels N]``.

    Returns the exit status (0 written, 2 error); bad arguments end in
    argparse's usage message and ``SystemExit(2)``.
    """
    parser = argparse.ArgumentParser(
        prog="leaktrace-embed",
        description="Stamp an image with an invisible mark of a viewer ID and a time.",
        epilog=EMBED_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="image to stamp (PNG, JPEG, ...)")
    parser.add_argument("output", type=Path, help="where to write the marked image (PNG recommended)")
    parser.add_argument("--key-file", type=Path, required=True, help="key written by leaktrace-keygen")
    parser.add_argument("--viewer-id", type=int, required=True, help="viewer ID, 0..4294967295")
    parser.add_argument("--time", type=_parse_time, default="now", help="ISO 8601 time with zone, or 'now' (default)")
    parser.add_argument("--strength", type=float, default=1.0, help="amplitude multiplier (default 1.0)")
    parser.add_argument("--force", action="store_true", help="overwrite the output file")
    parser.add_argument("--max-bytes", type=_int_at_least(1), default=DEFAULT_MAX_BYTES,
                        help="refuse larger input files, unread (default %(default)s)")
    parser.add_argument("--max-pixels", type=_int_at_least(1), default=DEFAULT_MAX_PIXELS,
                        help="refuse larger images, before decoding (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        with warnings_to_stderr("leaktrace-embed"):
            return _embed_file(args)
    except LeaktraceError as exc:
        print(f"leaktrace-embed: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: say so, and still exit 2
        print(f"leaktrace-embed: error: internal error ({type(exc).__name__}: {exc}); please report it with this trace:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return 2


def _embed_file(args: argparse.Namespace) -> int:
    from PIL import Image

    if args.output.exists() and not args.force:
        raise OptionError(f"{args.output} exists; pass --force to overwrite it", name="output", value=str(args.output))
    key = Key.from_file(args.key_file)
    payload = Payload(viewer_id=args.viewer_id, timestamp=args.time)
    loaded = load_image(args.input, alpha="keep", max_bytes=args.max_bytes, max_pixels=args.max_pixels)
    image = loaded.rgb if loaded.alpha is None else np.dstack([loaded.rgb, loaded.alpha])
    marked = embed(image, payload, key, strength=args.strength)
    _write_atomically(Image.fromarray(marked), args.output)
    if loaded.bit_depth > 8:
        print(f"leaktrace-embed: note: {args.input} has {loaded.bit_depth} bits per sample; the marked image is written "
              "with 8 (scaled, not clipped)", file=sys.stderr)
    print(f"wrote {args.output}: viewer {payload.viewer_id}, {payload.timestamp.isoformat()}, key {key.fingerprint}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
