"""Key hygiene for the pseudonym key (pure: DuckDB, no Dagster).

* :func:`check_key`: a key under :data:`MIN_KEY_BYTES` bytes is refused, and so is the published
  demo key outside the demo (``KONVERGENSI_DEMO_MODE``, set by `konvergensi demo` in its own
  process only).
* :func:`verify_key`: the warehouse remembers the fingerprint of the key its pseudonyms were made
  with (``raw.pseudonym_keys``: an HMAC of a fixed label under the key, never the key). Ingestion
  refuses a key whose fingerprint is not the latest lineage's: a mistyped key would otherwise give
  every child a new id, silently splitting every series.
* :func:`start_lineage` (`konvergensi rotate-key`): an operator who changes the key on purpose
  starts a new lineage, with their name and a reason. Pseudonyms cannot be re-keyed (HMAC is one
  way and the identifiers are never stored), so ids made under different lineages do not link.
"""

from __future__ import annotations

import datetime as dt

from pipelines import settings, tables

MIN_KEY_BYTES = 32
TABLE = "raw.pseudonym_keys"


class PseudonymKeyError(RuntimeError):
    """The pseudonym key is missing, weak, the demo's, or not the warehouse's."""


def check_key(key: str, demo_mode: bool) -> bytes:
    """The key as bytes, or a :class:`PseudonymKeyError` saying what is wrong and what to do."""
    if not key:
        raise PseudonymKeyError(
            "KONVERGENSI_PSEUDONYM_KEY is not set: refusing to ingest personal data without a "
            "pseudonymisation key (the demo sets its own, published demo key)."
        )
    raw = key.encode("utf-8")
    if key == settings.DEMO_PSEUDONYM_KEY and not demo_mode:
        raise PseudonymKeyError(
            "KONVERGENSI_PSEUDONYM_KEY is the published demo key: anyone can re-identify pseudonyms made "
            "with it. It is accepted only inside `konvergensi demo`; set a secret key of 32 bytes or more."
        )
    if len(raw) < MIN_KEY_BYTES:
        raise PseudonymKeyError(
            f"KONVERGENSI_PSEUDONYM_KEY is {len(raw)} bytes; a key needs at least {MIN_KEY_BYTES} "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')."
        )
    return raw


def _lineages(con) -> list[tuple]:
    tables.ensure(con, TABLE)
    return con.execute(
        f"select lineage, key_fingerprint, started_at, started_by from {TABLE} order by lineage desc"
    ).fetchall()


def verify_key(con, fingerprint: str, now: dt.datetime | None = None) -> int:
    """The lineage of the key with ``fingerprint``: recorded as lineage 1 on a warehouse's first
    ingestion; otherwise it must be the latest lineage's key, or :class:`PseudonymKeyError`."""
    rows = _lineages(con)
    if not rows:
        con.execute(f"insert into {TABLE} values (1, ?, ?, 'first ingestion', null)",
                    [fingerprint, _now(now)])
        return 1
    lineage, latest, since, by = rows[0]
    if fingerprint == latest:
        return lineage
    older = [r[0] for r in rows[1:] if r[1] == fingerprint]
    what = (f"the key of lineage {older[0]}, which lineage {lineage} replaced on {since:%Y-%m-%d} ({by})"
            if older else "not a key this warehouse has used")
    raise PseudonymKeyError(
        f"KONVERGENSI_PSEUDONYM_KEY is {what}: this warehouse's pseudonyms were made with lineage {lineage}'s key "
        f"(fingerprint {latest[:8]}…, since {since:%Y-%m-%d}). A mistyped key would give every child a new id, "
        "so nothing was ingested. Set the right key; or, to change the key on purpose, run "
        "`konvergensi rotate-key --operator NAME --reason TEXT` with the new key set (ids will not link across "
        "the change; docs/operations.md)."
    )


def start_lineage(con, fingerprint: str, operator: str, reason: str, now: dt.datetime | None = None) -> int:
    """Record the key with ``fingerprint`` as a new lineage (an operator's deliberate key change)."""
    if not operator.strip() or not reason.strip():
        raise PseudonymKeyError("a key rotation needs the operator's name and a reason")
    rows = _lineages(con)
    if rows and rows[0][1] == fingerprint:
        raise PseudonymKeyError(f"this key is already the current one (lineage {rows[0][0]}): nothing to rotate")
    lineage = (rows[0][0] if rows else 0) + 1
    con.execute(f"insert into {TABLE} values (?, ?, ?, ?, ?)",
                [lineage, fingerprint, _now(now), operator.strip(), reason.strip()])
    return lineage


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
