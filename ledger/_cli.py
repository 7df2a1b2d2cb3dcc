"""``leaktrace-ledger``: make the ledger's signing key, verify the chain, export signed checkpoints.

Exit status: 0 the chain is intact (or the command succeeded), 1 the chain
is broken (verify), 2 an error (bad arguments, unreadable key, unreachable
ledger).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Sequence

from ._chain import ChainReport, Checkpoint
from ._core import DEFAULT_TIMEOUT_S, Ledger, _open_url
from ._errors import LedgerError, LedgerKeyError
from ._key import LedgerKey, LedgerKeyWarning

__all__ = ["format_report", "load_checkpoints", "main", "open_for_repair"]

EXIT_OK, EXIT_BROKEN, EXIT_ERROR = 0, 1, 2

_EPILOG = """examples:
  leaktrace-ledger keygen /etc/leaktrace/ledger.key          # also writes ledger.key.pub
  leaktrace-ledger verify sqlite:////var/lib/leaktrace/ledger.sqlite --key ledger.key.pub
  leaktrace-ledger checkpoint sqlite:////var/lib/leaktrace/ledger.sqlite --key ledger.key \\
      --out /mnt/audit/ledger-checkpoints.jsonl                 # from cron, to storage the viewers cannot write
  leaktrace-ledger verify URL --key ledger.key.pub --checkpoints /mnt/audit/ledger-checkpoints.jsonl
"""


def load_checkpoints(path: str | os.PathLike[str]) -> list[Checkpoint]:
    """Read an exported checkpoints file (one JSON object a line).

    Raises
    ------
    LedgerError
        If the file cannot be read or a line is not a checkpoint.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"cannot read checkpoints file {str(path)!r}: {exc}") from exc
    points = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            points.append(Checkpoint.from_dict(json.loads(line)))
        except ValueError as exc:
            raise LedgerError(f"checkpoints file {str(path)!r}, line {number}: {exc}") from exc
    return points


def open_for_repair(url: str, key: LedgerKey, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Ledger:
    """Open a ledger for writing although its append-only triggers are missing (to restore them)."""
    if not key.can_sign:
        raise LedgerKeyError("restoring the triggers needs the ledger's private key")
    return _open_url(url, read_only=False, timeout_s=timeout_s, key=key, repair=True)


def format_report(report: ChainReport, url: str) -> str:
    """The verification as text for an operator."""
    if report.ok:
        return (f"ledger {url}: chain intact: {report.checked} rows signed by ledger key {report.signer} and "
                f"linked, head at position {report.head_seq}, {report.checkpoints} checkpoints match, "
                f"append-only triggers in place")
    lines = [f"ledger {url}: CHAIN BROKEN"
             + (f" at position {report.first_bad_seq}" if report.first_bad_seq is not None else "")
             + f" ({report.checked} rows checked against ledger key {report.signer}):"]
    lines += [f"  - {p}" for p in report.problems]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leaktrace-ledger", description="The access ledger's signing key, chain verification and checkpoints.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="write a new ledger signing key (0600) and its public key (.pub)")
    keygen.add_argument("path", help="private key file to create")
    keygen.add_argument("--public", help="public key file (default PATH.pub)")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    verify = sub.add_parser("verify", help="check every row's content, signature and link, the head and triggers")
    verify.add_argument("url", help="the ledger (sqlite:///path, a file path, or postgresql://...)")
    verify.add_argument("--key", required=True, help="the ledger's public (or private) key file")
    verify.add_argument("--checkpoints", help="exported checkpoints file (JSON lines) to check as well")
    verify.add_argument("--restore-triggers", action="store_true",
                        help="if only the triggers are missing, re-create them (needs the private key)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    checkpoint = sub.add_parser("checkpoint", help="sign the chain's current end; append it to an export file")
    checkpoint.add_argument("url")
    checkpoint.add_argument("--key", required=True, help="the ledger's private key file")
    checkpoint.add_argument("--out", help="append the checkpoint here as a JSON line (else print it)")
    return parser


def _verify(args: argparse.Namespace) -> int:
    key = LedgerKey.load(args.key)
    points = load_checkpoints(args.checkpoints) if args.checkpoints else []
    with Ledger.open(args.url, read_only=True, ledger_key=key.public_only()) as ledger:
        report = ledger.verify(checkpoints=points)
        url = ledger.url
    restored: list[str] = []
    if args.restore_triggers and not report.triggers_ok:
        only_triggers = all("triggers" in p for p in report.problems)
        if not only_triggers:
            print("leaktrace-ledger: the chain is broken, not only the triggers: not restoring them", file=sys.stderr)
        else:
            with open_for_repair(args.url, key) as repair:
                restored = repair.restore_triggers()
            with Ledger.open(args.url, read_only=True, ledger_key=key.public_only()) as ledger:
                report = ledger.verify(checkpoints=points)
    if args.json:
        print(json.dumps({"ledger": url, **report.to_dict(), "restored_triggers": restored}, indent=2))
    else:
        if restored:
            print(f"restored the append-only triggers {', '.join(restored)}")
        print(format_report(report, url))
    return EXIT_OK if report.ok else EXIT_BROKEN


def _checkpoint(args: argparse.Namespace) -> int:
    key = LedgerKey.load(args.key)
    with Ledger.open(args.url, ledger_key=key) as ledger:
        point = ledger.checkpoint()
    line = json.dumps(point.to_dict())
    if args.out:
        try:
            with open(args.out, "a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise LedgerError(f"cannot append to {args.out!r}: {exc.strerror}") from exc
        print(f"checkpoint of position {point.seq} appended to {args.out}")
    else:
        print(line)
    return EXIT_OK


def _keygen(args: argparse.Namespace) -> int:
    key = LedgerKey.generate()
    public = args.public or f"{args.path}.pub"
    try:
        key.save(args.path, overwrite=args.force)
    except LedgerKeyError as exc:
        if "exists" in str(exc):
            raise LedgerKeyError(f"{exc} (pass --force to replace it: rows signed with the old key then need "
                                 f"the old public key to verify)") from exc
        raise
    key.save(public, public=True, overwrite=args.force)
    print(f"ledger key {key.fingerprint}: private {args.path} (mode 0600, for the viewer servers only), "
          f"public {public} (for whoever verifies)")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``leaktrace-ledger``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", LedgerKeyWarning)
            warnings.showwarning = lambda message, *a, **k: print(f"leaktrace-ledger: warning: {message}",
                                                                  file=sys.stderr)
            if args.command == "keygen":
                return _keygen(args)
            if args.command == "verify":
                return _verify(args)
            return _checkpoint(args)
    except LedgerError as exc:
        print(f"leaktrace-ledger: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
