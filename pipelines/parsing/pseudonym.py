"""Keyed pseudonyms for personal data (NIK, names, addresses, phone numbers).

A pseudonym is ``hex(HMAC-SHA256(key, "<kind>:<normalised value>"))[:32]``: stable for the same
key, kind and value across files and runs (so the same child links across months), unlinkable
without the key, and different for different keys. The ``kind`` keeps a name and a NIK that
happen to share characters from colliding, and lets one person's NIK link across streams
(every NIK uses the kind ``"nik"``).

Child identity (:func:`child_ids`): a NIK that is exactly 16 digits once written the way
Excel leaves it is undone (:func:`normalise_nik`: NFKC, so full-width digits become digits; the
text prefix ``'``, spaces, dashes and dots removed) gives ``token("nik", NIK)``; any other NIK
(short, empty, letters, an obvious placeholder, or one that arrived as a number) falls back to
``token("child", "<NAME>|<birth date ISO>|<village code>")``, with ``nik_valid`` kept so the
fallback rows can be counted.

A NIK that arrived as a number is never trusted (:func:`untrusted_nik`): an XLSX or JSON number
cell, or text in Excel's scientific rendering (``3.60101E+15``) or with a decimal part
(``3601012345678901.0``). Excel keeps 15 significant digits, so the 16th digit of such a NIK is
already lost and it could merge two children.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.parsing import native
from pipelines.parsing.values import arrow_values, as_text, is_number, joined_text, squeeze_whitespace

TOKEN_HEX_CHARS = 32
KEY_FINGERPRINT_LABEL = b"banten-konvergensi pseudonym key fingerprint v1"


def normalise_identity(values: pd.Series) -> pd.Series:
    """Text as hashed: trimmed, upper case, inner white space collapsed; empty -> NA.

    Numbers from XLSX cells (a NIK typed as a number) become their integer digits, so a
    value hashes the same whether it came from a CSV string or a spreadsheet number.
    """
    if values.dtype == object:
        values = values.map(_cell_text, na_action="ignore")
    # A plain-string pattern (not a compiled one) keeps pandas on the pyarrow fast path.
    text = squeeze_whitespace(values.astype("str")).str.strip().str.upper()
    return text.where(text.ne("") & values.notna())


def _cell_text(value: object) -> object:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Pseudonymiser:
    """HMAC-SHA256 pseudonymiser. The key never appears in ``repr`` or error messages.

    Args:
        key: secret key bytes (at least 16 bytes recommended; empty keys are refused).
    """

    __slots__ = ("_block", "_inner", "_key", "_outer")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or not key:
            raise ValueError("pseudonym key must be non-empty bytes")
        self._key = bytes(key)
        # HMAC (RFC 2104) with the padded-key blocks hashed once: each token then costs two
        # short SHA-256 runs instead of four (about half the time of hmac.digest per value).
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(self._key).digest() if len(self._key) > block else self._key).ljust(block, b"\0")
        self._block = padded
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def __reduce__(self):
        # Picklable for the ingestion worker processes (a local pipe); hashlib states are not.
        return (Pseudonymiser, (self._key,))

    def __repr__(self) -> str:
        return "Pseudonymiser(key=<hidden>)"

    def key_fingerprint(self) -> str:
        """HMAC of a fixed label under the key: tells two keys apart without revealing either
        (stored in the warehouse so a changed key is noticed, :mod:`pipelines.ingestion.keys`)."""
        return hmac.digest(self._key, KEY_FINGERPRINT_LABEL, "sha256").hex()[:TOKEN_HEX_CHARS]

    __str__ = __repr__

    def token_one(self, kind: str, value: str) -> str:
        """Token of one already-normalised value."""
        # hmac.digest is the one-shot OpenSSL path: ~5x faster than hmac.new(...).hexdigest().
        return hmac.digest(self._key, f"{kind}:{value}".encode(), "sha256").hex()[:TOKEN_HEX_CHARS]

    def hash_column(self, kind: str, values: pa.Array) -> pa.Array:
        """Tokens of already-normalised, non-null strings (the same as :meth:`token_one` each).

        The whole column in one native call (:mod:`pipelines.parsing.native`: OpenSSL's SHA-256,
        ~0.2 us a value) when the library is built, else :meth:`hash_column_python`.
        """
        hashed = native.hmac_hex_column(self._block, f"{kind}:".encode(), values, TOKEN_HEX_CHARS)
        return hashed if hashed is not None else self.hash_column_python(kind, values)

    def hash_column_python(self, kind: str, values: pa.Array) -> pa.Array:
        """:meth:`hash_column` in Python: a loop over OpenSSL's SHA-256 from the pre-hashed
        padded-key blocks (two compressions per value, with SHA-NI): ~1 us a value. (HMAC written
        as SQL and run by DuckDB on the whole column was slower: it hashes the key blocks again for
        every value, four compressions without SHA-NI.)
        """
        inner = self._inner.copy()
        inner.update(f"{kind}:".encode())
        new_inner, new_outer = inner.copy, self._outer.copy
        hashed = []
        append = hashed.append
        for u in values.to_pylist():
            h = new_inner()
            h.update(u.encode())
            o = new_outer()
            o.update(h.digest())
            append(o.hexdigest()[:TOKEN_HEX_CHARS])
        return pa.array(hashed, type=pa.large_string())

    def token(self, kind: str, values: pd.Series) -> pd.Series:
        """Pseudonyms for a column: each value normalised (:func:`normalise_identity`) and hashed.

        Args:
            kind: namespace of the value (``"nik"``, ``"child"``, ``"parent"``, ``"address"`` ...).
            values: raw values (strings, or XLSX numbers); empty/NA give NA.

        Returns:
            A string Series aligned with ``values`` (same index), NA where the value was empty.
        """
        return self._tokens(kind, values, None, True, None)

    def scoped_token(self, kind: str, values: pd.Series, scope: pd.Series, *, empty_too: bool = False,
                     where: pd.Series | np.ndarray | None = None) -> pd.Series:
        """Pseudonyms of ``"<normalised value>|<scope>"`` (e.g. a name scoped by village code): the
        token of ``normalise_identity(normalise_identity(values) + "|" + scope)``, a missing scope
        counting as empty.

        Args:
            empty_too: an empty value still gives a token (of ``"|<scope>"``); else NA.
            where: rows to give a token (the others NA); None: all.
        """
        return self._tokens(kind, values, scope, not empty_too, where)

    def _tokens(self, kind: str, values: pd.Series, scope: pd.Series | None, empty_gives_null: bool,
                where) -> pd.Series:
        if values.dtype == object:  # XLSX/JSON cells: numbers as their digits first
            values = values.map(_cell_text, na_action="ignore").astype("str")
        selected = None if where is None else np.asarray(where, dtype=bool)
        native_pass = native.normalise_hmac_hex_column(
            self._block, f"{kind}:".encode(), arrow_values(values.astype("str")), TOKEN_HEX_CHARS,
            suffix=None if scope is None else arrow_values(scope.astype("str")),
            empty_gives_null=empty_gives_null, selected=selected)
        if native_pass is None:
            return self._tokens_python(kind, values, scope, empty_gives_null, selected)
        tokens, fallback = native_pass
        if fallback.any():  # text other than plain ASCII: normalised by pandas, as everywhere else
            at = np.flatnonzero(fallback)
            rest = self._tokens_python(kind, values.iloc[at], None if scope is None else scope.iloc[at],
                                       empty_gives_null, None)
            tokens = pc.replace_with_mask(tokens, pa.array(fallback), arrow_values(rest).cast(pa.large_string()))
        return pd.Series(tokens, index=values.index, dtype="str")

    def _tokens_python(self, kind: str, values: pd.Series, scope: pd.Series | None, empty_gives_null: bool,
                       selected: np.ndarray | None) -> pd.Series:
        if scope is not None:
            norm = normalise_identity(values)
            key = norm.fillna("") + "|" + scope.astype("str").fillna("")
            values = key.where(norm.notna()) if empty_gives_null else key
        if selected is not None:
            values = values.where(selected)
        return self.token_python(kind, values)

    def token_python(self, kind: str, values: pd.Series) -> pd.Series:
        """:meth:`token` by :func:`normalise_identity`, then :meth:`hash_column` once per distinct value
        (the path for text other than plain ASCII, and without the native library)."""
        norm = normalise_identity(values)
        codes, uniques = pd.factorize(norm, use_na_sentinel=True)
        hashed = self.hash_column(kind, pa.array(uniques, type=pa.large_string()))
        present = codes >= 0
        taken = hashed.take(pa.array(np.where(present, codes, 0), mask=~present))
        return pd.Series(taken, index=values.index, dtype="str")


# Placeholder NIKs typed when the real one is unknown: one digit repeated, the digits in
# sequence, or a code followed by a run of zeros. Shared by many children, they would merge
# them under one pseudonymous id, so they count as invalid (the id falls back to name, birth
# date and village) while the row is kept. (One alternative per digit rather than a
# backreference: RE2, pyarrow's engine, has none, and Python's re is ~5x slower per cell.)
DUMMY_NIK = "|".join(f"{d}{{16}}" for d in "0123456789") + "|0123456789012345|1234567890123456|[0-9]{6}0{10}"
# What people and spreadsheets put inside a NIK: Excel's text prefix (straight or curly), white
# space, dashes and dots (``3601 0123 4567 8901``, ``3601-01...``, ``3601.0123...``). Literal
# characters, not escapes, keep the pattern on pyarrow's RE2 path.
_NIK_NOISE = "['‘’`\\s.\\-‐‑‒–—]"
# A number written out as text: Excel's scientific rendering, or a float's decimal part.
_NUMBER_TEXT = r"'?[0-9]+([.,][0-9]+)?[eE][+]?[0-9]+|[0-9]+[.,]0+"


def _nik_text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Cells as trimmed text, NFKC-normalised where not plain ASCII (full-width ``３６０１``), and
    which cells are plain 16 digits already (nearly all of them: the rest only is looked at)."""
    text = as_text(values)
    plain = text.str.fullmatch(r"[0-9]{16}").fillna(False).astype(bool)
    rest = text[text.notna() & ~plain]
    wide = rest.str.contains(r"[^\x00-\x7f]", regex=True).fillna(False).astype(bool)
    if wide.any():
        text = text.copy()
        text[rest.index[wide]] = rest[wide].str.normalize("NFKC").str.strip()
    return text, plain


def _digits(text: pd.Series, plain: pd.Series) -> pd.Series:
    noisy = text.notna() & ~plain
    if noisy.any():
        text = text.copy()
        text[noisy] = text[noisy].str.replace(_NIK_NOISE, "", regex=True)
    return text.where(text.ne(""))


def normalise_nik(values: pd.Series) -> pd.Series:
    """NIK cells as the digits they were meant to be: NFKC (full-width digits become digits),
    then the text prefix ``'``, white space, dashes and dots removed; NA for an empty cell.
    A number cell gives its integer digits (it is untrusted anyway: :func:`untrusted_nik`)."""
    return _digits(*_nik_text(values))


def _untrusted(values: pd.Series, text: pd.Series, plain: pd.Series) -> pd.Series:
    if values.dtype == object:
        out = values.map(is_number).astype(bool)
    else:
        out = pd.Series(False, index=values.index)
    rest = text[text.notna() & ~plain]
    out[rest.index] |= rest.str.fullmatch(_NUMBER_TEXT).fillna(False).astype(bool)
    return out


def untrusted_nik(values: pd.Series) -> pd.Series:
    """Whether each NIK cell arrived as a number: an XLSX/JSON number cell, or text that is a
    number's rendering (``3.60101E+15``, ``3601012345678901.0``). Such a NIK never identifies."""
    return _untrusted(values, *_nik_text(values))


# The placeholders of DUMMY_NIK that are not "six digits then ten zeros" (16 digits each).
_DUMMY_EXACT = pa.array([d * 16 for d in "0123456789"] + ["0123456789012345", "1234567890123456"],
                        type=pa.large_string())


def nik_facts(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """``(digits, is_valid, untrusted)`` of NIK cells (:func:`clean_nik`, :func:`untrusted_nik`),
    reading the cells once."""
    text, plain = _nik_text(values)
    untrusted = _untrusted(values, text, plain)
    digits = _digits(text, plain)
    sixteen = plain.copy()
    rest = digits[~plain & digits.notna()]
    sixteen[rest.index] = rest.str.fullmatch(r"[0-9]{16}").fillna(False).astype(bool)
    # On 16 digits, DUMMY_NIK is one of the exact placeholders or ends in ten zeros (no regex per row).
    arrow = arrow_values(digits).cast(pa.large_string())
    dummy = pc.or_(pc.is_in(arrow, value_set=_DUMMY_EXACT), pc.ends_with(arrow, "0" * 10)).fill_null(False)
    dummy = dummy.to_numpy(zero_copy_only=False)
    valid = sixteen.to_numpy(dtype=bool) & ~dummy & ~untrusted.to_numpy(dtype=bool)
    return digits, pd.Series(valid, index=values.index), untrusted


def clean_nik(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """NIK digits (:func:`normalise_nik`) and whether each is a usable NIK: exactly 16 digits,
    not an obvious placeholder (:data:`DUMMY_NIK`) and not arrived as a number (:func:`untrusted_nik`).

    Returns:
        (digits, is_valid): digits is NA for an empty cell; is_valid is a bool Series.
    """
    digits, valid, _ = nik_facts(values)
    return digits, valid


def child_ids(
    pseudonymiser: Pseudonymiser,
    nik: pd.Series,
    name: pd.Series,
    birth_iso: pd.Series,
    village_code: pd.Series,
    facts: tuple[pd.Series, pd.Series, pd.Series] | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Child pseudonym: NIK token when the NIK is usable (:func:`clean_nik`), else
    name|birth date|village token.

    Args:
        facts: :func:`nik_facts` of ``nik`` when the caller has it already.

    Returns:
        (child_id, nik_valid)
    """
    digits, valid, _ = facts if facts is not None else nik_facts(nik)
    by_nik = pseudonymiser.token("nik", digits.where(valid))
    # token of NAME|birth date|village (an empty name too)
    scope = joined_text(birth_iso, "|", village_code)
    by_name = pseudonymiser.scoped_token("child", name, scope, empty_too=True, where=~valid.to_numpy(dtype=bool))
    return by_nik.where(valid, by_name), valid
