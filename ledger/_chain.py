"""The ledger's hash chain: every row signed and linked to the one before it.

Row ``seq`` (1, 2, 3, ... in commit order) stores ``prev_hash``, the
``row_hash`` of row ``seq - 1`` (row 1: a hash of the ledger's random ID),
its own ``row_hash`` (SHA-256 of a canonical encoding of the ledger ID, the
position, the previous hash and every recorded field) and an Ed25519
``signature`` of that hash by the ledger key. The ledger's signed *head*
(the last position and its hash, rewritten in the same transaction as each
row) and its signed *checkpoints* (the same, kept as a history and exported
to be kept elsewhere) pin the end of the chain, so that removing the last
rows is seen too.

What each tampering looks like to :func:`check_rows`:

* a field changed: the row's hash no longer matches its content;
* a row inserted without the private key: its signature does not verify;
* a row deleted: a gap in the positions, or a broken link;
* rows reordered or renumbered: the position and link are signed;
* the tail removed: the head or a checkpoint names a later position;
* the append-only triggers dropped: reported by the backend's trigger check.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from ._key import LedgerKey
from ._validate import iso, minute_of, parse_iso

__all__ = [
    "SIGNED_FIELDS",
    "ChainLink",
    "ChainReport",
    "Checkpoint",
    "check_rows",
    "content_digest",
    "genesis_hash",
    "head_bytes",
    "link_hash",
    "link_row",
    "row_hash",
]

SIGNED_FIELDS = (
    "view_uid", "viewer_id", "display_name", "record_id", "workstation", "client_address", "viewed_at",
    "key_fingerprint", "action",
)
"""The recorded fields covered by each row's hash, in this order (``viewed_at`` as ISO 8601 UTC text)."""


def genesis_hash(ledger_id: str) -> str:
    """The ``prev_hash`` of row 1: binds the chain to this ledger's random ID."""
    return hashlib.sha256(f"leaktrace-ledger genesis {ledger_id}".encode()).hexdigest()


def _canonical(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SIGNED_FIELDS:
        value = fields[name]
        out[name] = iso(value) if isinstance(value, datetime) else value
    out["viewer_id"] = int(out["viewer_id"])
    return out


def content_digest(ledger_id: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the ledger ID and a row's recorded fields."""
    body = {"ledger": ledger_id, "row": _canonical(fields)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def link_hash(ledger_id: str, seq: int, prev_hash: str, digest: str) -> str:
    """SHA-256 (hex) linking position ``seq`` to the previous row's hash and this row's :func:`content_digest`.

    Simple enough for a database to compute under its own lock (PostgreSQL's
    writers link rows server-side); the writer checks the result and signs it.
    """
    text = f"leaktrace-ledger row {ledger_id} {int(seq)} {prev_hash} {digest}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def row_hash(ledger_id: str, seq: int, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of a row at ``seq`` after ``prev_hash``: :func:`link_hash` of its :func:`content_digest`."""
    return link_hash(ledger_id, seq, prev_hash, content_digest(ledger_id, fields))


def head_bytes(ledger_id: str, seq: int, hash_hex: str, created_at: str = "") -> bytes:
    """What a head or checkpoint signature covers."""
    return f"leaktrace-ledger head {ledger_id} {int(seq)} {hash_hex} {created_at}".encode("ascii")


@dataclass(frozen=True)
class ChainLink:
    """The chain columns of one row."""

    seq: int
    prev_hash: str
    row_hash: str
    signature: str


def link_row(key: LedgerKey, ledger_id: str, previous: tuple[int, str] | None, fields: Mapping[str, Any]) -> ChainLink:
    """The chain columns for a new row after ``previous`` (its ``(seq, row_hash)``, None for the first)."""
    seq, prev = (1, genesis_hash(ledger_id)) if previous is None else (previous[0] + 1, previous[1])
    digest = row_hash(ledger_id, seq, prev, fields)
    return ChainLink(seq=seq, prev_hash=prev, row_hash=digest, signature=key.sign(bytes.fromhex(digest)).hex())


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the ledger's chain reached position ``seq`` with hash ``row_hash``.

    Export checkpoints (``leaktrace-ledger checkpoint``) to storage the viewer
    servers cannot write; ``leaktrace-ledger verify --checkpoints FILE`` then
    proves that nothing up to each of them was removed or rewritten since.
    """

    ledger_id: str
    seq: int
    row_hash: str
    created_at: str
    signer: str
    signature: str

    @classmethod
    def make(cls, key: LedgerKey, ledger_id: str, seq: int, hash_hex: str) -> Checkpoint:
        """Sign a checkpoint of position ``seq`` now."""
        created = iso(datetime.now(timezone.utc))
        signature = key.sign(head_bytes(ledger_id, seq, hash_hex, created)).hex()
        return cls(ledger_id, int(seq), hash_hex, created, key.fingerprint, signature)

    def valid(self, key: LedgerKey) -> bool:
        """True when ``key`` signed this checkpoint."""
        try:
            signature = bytes.fromhex(self.signature)
        except ValueError:
            return False
        return key.verify(signature, head_bytes(self.ledger_id, self.seq, self.row_hash, self.created_at))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one exported checkpoint (one line of a checkpoints file)."""
        return {"format": "leaktrace-ledger-checkpoint", "ledger_id": self.ledger_id, "seq": self.seq,
                "row_hash": self.row_hash, "created_at": self.created_at, "signer": self.signer,
                "signature": self.signature}

    @classmethod
    def from_dict(cls, data: Any) -> Checkpoint:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` for anything else."""
        if not isinstance(data, dict) or data.get("format") != "leaktrace-ledger-checkpoint":
            raise ValueError("not a leaktrace ledger checkpoint")
        try:
            parse_iso(str(data["created_at"]))
            return cls(str(data["ledger_id"]), int(data["seq"]), str(data["row_hash"]), str(data["created_at"]),
                       str(data["signer"]), str(data["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed ledger checkpoint: {exc}") from exc


@dataclass(frozen=True)
class ChainReport:
    """What a verification of the chain found.

    Attributes
    ----------
    ok : bool
        True when no problem was found in what was checked.
    checked : int
        Rows whose hash, signature and link were checked.
    first_bad_seq : int or None
        The first chain position found broken (None when ``ok``, or when the
        problem concerns no one position, such as missing triggers).
    problems : tuple of str
        Each problem in a sentence, the first broken link first.
    head_seq : int
        The last position the ledger holds (0 when empty).
    signer : str
        Fingerprint of the key the chain was checked against.
    scope : str
        ``"full"`` or a description of the positions checked.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    problems: tuple[str, ...]
    head_seq: int
    signer: str
    scope: str = "full"
    checkpoints: int = 0
    triggers_ok: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"ok": self.ok, "checked": self.checked, "first_bad_seq": self.first_bad_seq,
                "problems": list(self.problems), "head_seq": self.head_seq, "signer": self.signer,
                "scope": self.scope, "checkpoints": self.checkpoints, "triggers_ok": self.triggers_ok}


def check_rows(
    rows: Iterable[Sequence[Any]], key: LedgerKey, ledger_id: str, *, start: int, stop: int,
    pending_after: int | None = None, pending: list[int] | None = None,
) -> tuple[int, list[tuple[int, str]], dict[int, str]]:
    """Check the rows at positions ``start .. stop`` (inclusive): contiguous, linked, hashed, signed.

    ``rows`` are ``(seq, fields mapping, prev_hash, row_hash, signature, minute)`` in ``seq`` order.
    Returns the number of rows checked, the problems found as ``(seq, sentence)`` and the
    row hash of each position seen (for head and checkpoint comparisons).

    A row without a signature after position ``pending_after`` (the signed
    head) is a writer's row between its link and its signature: its
    position goes to ``pending`` instead of the problems. Anywhere else an
    unsigned row is a problem.
    """
    problems: list[tuple[int, str]] = []
    hashes: dict[int, str] = {}
    expected = start
    previous_hash = genesis_hash(ledger_id) if start == 1 else None
    checked = 0
    for seq, fields, prev_hash, stored_hash, signature, minute in rows:
        seq = int(seq)
        if seq < start or seq > stop:
            continue
        if seq != expected:
            problems.append((expected, f"chain positions {expected}..{seq - 1} are missing (rows deleted)"))
            previous_hash = None
        expected = seq + 1
        checked += 1
        hashes[seq] = stored_hash
        if previous_hash is not None and prev_hash != previous_hash:
            problems.append((seq, f"row at position {seq} does not link to the row before it (reordered or replaced)"))
        previous_hash = stored_hash
        try:
            digest = row_hash(ledger_id, seq, prev_hash, fields)
        except (KeyError, TypeError, ValueError):
            problems.append((seq, f"row at position {seq} has malformed fields"))
            continue
        if digest != stored_hash:
            problems.append((seq, f"row at position {seq} (view {fields.get('view_uid')}) was changed after it was recorded"))
            continue
        if not signature and pending is not None and pending_after is not None and seq > pending_after:
            pending.append(seq)
            continue
        try:
            good = key.verify(bytes.fromhex(signature or ""), bytes.fromhex(digest))
        except ValueError:
            good = False
        if not good:
            problems.append((seq, f"row at position {seq} is not signed by ledger key {key.fingerprint} (forged or inserted)"))
        viewed_at = fields["viewed_at"]
        if minute is not None and int(minute) != minute_of(viewed_at if isinstance(viewed_at, datetime) else parse_iso(viewed_at)):
            problems.append((seq, f"row at position {seq} has its lookup minute changed (hidden from lookups)"))
    if expected <= stop:
        problems.append((expected, f"chain positions {expected}..{stop} are missing (rows deleted)"))
    return checked, problems, hashes
