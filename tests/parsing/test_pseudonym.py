"""Keyed pseudonyms (pipelines.parsing.pseudonym)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.parsing.pseudonym import Pseudonymiser, child_ids, clean_nik

KEY = b"unit-test-key-not-secret"


def test_token_is_truncated_hmac_of_kind_and_normalised_value():
    import hashlib
    import hmac

    p = Pseudonymiser(KEY)
    got = p.token("child", pd.Series(["  anak   contoh "]))
    expected = hmac.new(KEY, b"child:ANAK CONTOH", hashlib.sha256).hexdigest()[:32]
    assert got.tolist() == [expected]


def test_same_value_same_token_different_key_or_kind_differs():
    s = pd.Series(["3604015001230001", "3604015001230001", "", None])
    a, b = Pseudonymiser(KEY).token("nik", s), Pseudonymiser(b"another-key").token("nik", s)
    assert a.iloc[0] == a.iloc[1] and a.iloc[2:].isna().all()
    assert a.iloc[0] != b.iloc[0]
    assert a.iloc[0] != Pseudonymiser(KEY).token("child", s).iloc[0]


def test_xlsx_number_hashes_like_its_text():
    p = Pseudonymiser(KEY)
    assert p.token("nik", pd.Series([3604015001230001.0], dtype=object)).iloc[0] == \
        p.token("nik", pd.Series(["3604015001230001"])).iloc[0]


def test_repr_hides_key_and_empty_key_refused():
    assert "unit-test" not in repr(Pseudonymiser(KEY)) and "unit-test" not in str(Pseudonymiser(KEY))
    with pytest.raises(ValueError):
        Pseudonymiser(b"")


def test_nik_validity_and_child_id_fallback():
    digits, valid = clean_nik(pd.Series(["3604 0150 0123 0001", "360401500123", "", "36040150012300AB"]))
    assert valid.tolist() == [True, False, False, False]
    assert digits.iloc[0] == "3604015001230001"
    p = Pseudonymiser(KEY)
    ids, valid = child_ids(
        p,
        nik=pd.Series(["3604015001230001", "360401500123"]),
        name=pd.Series(["ANAK SATU", "ANAK DUA"]),
        birth_iso=pd.Series(["2023-01-15", "2023-06-01"]),
        village_code=pd.Series(["36.04.15.2001", "36.04.15.2001"]),
    )
    assert ids.iloc[0] == p.token("nik", pd.Series(["3604015001230001"])).iloc[0]
    assert ids.iloc[1] == p.token("child", pd.Series(["ANAK DUA|2023-06-01|36.04.15.2001"])).iloc[0]
    assert valid.tolist() == [True, False]


def test_a_large_column_of_repeated_values():
    p = Pseudonymiser(KEY)
    s = pd.Series(["A", "B", "C"] * 100_000)
    out = p.token("x", s)
    assert out.nunique() == 3 and len(out) == 300_000


def test_placeholder_niks_are_not_identities():
    values = pd.Series(["1111111111111111", "3600000000000000", "1234567890123456", "3604015001230001", "3604010000000000"])
    _, valid = clean_nik(values)
    assert valid.tolist() == [False, False, False, True, False]
    # two different children with the same placeholder NIK keep different ids
    p = Pseudonymiser(b"k")
    ids, nik_valid = child_ids(
        p,
        pd.Series(["1111111111111111", "1111111111111111"]),
        pd.Series(["ANAK SATU", "ANAK DUA"]),
        pd.Series(["2022-01-01", "2021-05-05"]),
        pd.Series(["36.01.01.2001", "36.01.01.2001"]),
    )
    assert not nik_valid.any()
    assert ids.iloc[0] != ids.iloc[1]


@pytest.mark.parametrize("key", [b"k" * 32, b"a-key-of-exactly-sixty-four-bytes-for-the-sha256-block-size-ok!!",
                                 bytes(range(256)) * 2])
def test_column_wise_hmac_is_rfc_2104_hmac_sha256(key):
    """Tokens of a whole column are byte for byte ``hmac.digest`` (so warehouses built before stay
    joinable): short and multi-block values, non-ASCII, keys shorter than, equal to and longer than
    the SHA-256 block."""
    import hmac

    import pyarrow as pa

    values = ["3601012345678901", "", "SITI AMINAH|2023-03-10|36.01.06.2002", "ÑOÑO ÜBER 名前 😀",
              "X" * 55, "Y" * 56, "Z" * 64, "W" * 1000, "a\tb\nc"]
    pseudo = Pseudonymiser(key)
    column = pa.array(values, type=pa.large_string())
    want = [hmac.digest(key, f"child:{v}".encode(), "sha256").hex()[:32] for v in values]
    assert pseudo.hash_column("child", column).to_pylist() == want
    assert pseudo.hash_column_python("child", column).to_pylist() == want
    assert pseudo.hash_column("child", column.slice(2, 4)).to_pylist() == want[2:6]  # an array with an offset
    assert pseudo.hash_column("child", column.cast(pa.string())).to_pylist() == want
    assert pseudo.hash_column("child", pa.chunked_array([column[:3], column[3:]])).to_pylist() == want
    assert [pseudo.token_one("child", v) for v in values] == want
    assert pseudo.hash_column("nik", pa.array([], type=pa.large_string())).to_pylist() == []


def test_the_native_hmac_is_built_and_used():
    """``make install`` builds the native HMAC (pipelines/parsing/native); without it every token
    would still be right (the Python loop), only ~5x slower, so this says when it is missing."""
    import random

    import pyarrow as pa

    from pipelines.parsing import native

    assert native.status() == "native", native.status()
    rng = random.Random(7)
    values = ["".join(rng.choice("AB Ñ名0|-") for _ in range(rng.randrange(0, 90))) for _ in range(2000)]
    column = pa.array(values, type=pa.large_string())
    pseudo = Pseudonymiser(KEY)
    assert native.hmac_hex_column(pseudo._block, b"parent:", column, 32).equals(
        pseudo.hash_column_python("parent", column))


def _hash_in_child(queue) -> None:
    import pyarrow as pa

    queue.put(Pseudonymiser(KEY).hash_column("nik", pa.array(["3601012345678901"], type=pa.large_string())).to_pylist())


def test_column_wise_hashing_survives_a_fork_after_the_parent_hashed():
    """Ingestion workers are forked from a process that has hashed already, and hash the same
    (a hashing state that did not survive a fork would crash the worker, which the pool would then
    silently replace by parsing in the parent)."""
    import multiprocessing

    import pyarrow as pa

    parent = Pseudonymiser(KEY).hash_column("nik", pa.array(["3601012345678901"], type=pa.large_string())).to_pylist()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_hash_in_child, args=(queue,))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert got == parent


def _normalised_then_hashed(p: Pseudonymiser, kind: str, values: pd.Series) -> list:
    """The definition of a token, spelled out: normalise_identity, then one HMAC per value."""
    import hmac

    from pipelines.parsing.pseudonym import normalise_identity

    return [None if pd.isna(v) else hmac.digest(p._key, f"{kind}:{v}".encode(), "sha256").hex()[:32]
            for v in normalise_identity(values)]


TRICKY = ["siti  aminah", " budi\tsantoso ", "a\r\nb", "", "   ", None, "ÑoÑo", "ﬁsh", "Ａｂ", "x\u2003y",
          "x\xa0", "\x0bv\x0c", "a\x1fb", "d\x7f", "ı", "ǅ", "ß", "3601012345678901", "|", "A|B  |c"]


@pytest.mark.parametrize("dtype", ["str", object])
def test_one_pass_tokens_equal_normalising_then_hashing(dtype):
    """The native pass normalises plain ASCII itself and hands any other text back to pandas: the
    tokens are those of normalise_identity + HMAC, value by value, for white space, control
    characters, Unicode case and trimming, empty cells and NA, and on a sliced column."""
    import random

    rng = random.Random(11)
    alphabet = list("abXY09 .'|") + ["  ", "\t", "\n", "\x0b", "\x1c", "\xa0", "é", "Ａ", "\u2003", "ı"]
    values = TRICKY + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9))) for _ in range(3000)]
    column = pd.Series(values, dtype=dtype)
    p = Pseudonymiser(KEY)
    got = p.token("parent", column)
    assert [None if pd.isna(t) else t for t in got] == _normalised_then_hashed(p, "parent", column)
    part = column.iloc[5:900]
    assert p.token("parent", part).fillna("NA").tolist() == p.token_python("parent", part).fillna("NA").tolist()
    assert got.index.equals(column.index)


def test_scoped_tokens_are_tokens_of_the_normalised_value_and_its_scope():
    """scoped_token("parent", name, village) is token("parent", NAME + "|" + village), NA for an empty
    name (or the token of "|village" with empty_too), and NA outside ``where``."""
    from pipelines.parsing.pseudonym import normalise_identity

    p = Pseudonymiser(KEY)
    names = pd.Series(TRICKY, dtype="str")
    scope = pd.Series(["36.01.01.2001", None, " x  y ", "2023-01-02|36.04.15.2001"] * 5, dtype="str")
    norm = normalise_identity(names)
    key = norm.fillna("") + "|" + scope.fillna("")
    want = p.token("parent", key.where(norm.notna()))
    assert p.scoped_token("parent", names, scope).fillna("NA").tolist() == want.fillna("NA").tolist()
    assert p.scoped_token("parent", names, scope, empty_too=True).fillna("NA").tolist() == \
        p.token("parent", key).fillna("NA").tolist()
    where = pd.Series([i % 3 != 0 for i in range(len(names))])
    assert p.scoped_token("parent", names, scope, where=where).fillna("NA").tolist() == \
        want.where(where).fillna("NA").tolist()


def test_placeholder_detection_without_a_regex_matches_the_pattern():
    """nik_facts finds DUMMY_NIK's placeholders by set membership and a run of zeros; on every
    16-digit NIK that is the pattern's full match."""
    import random
    import re

    from pipelines.parsing.pseudonym import DUMMY_NIK, nik_facts

    rng = random.Random(3)
    niks = [d * 16 for d in "0123456789"] + ["0123456789012345", "1234567890123456", "3604010000000000",
                                             "3604011000000000", "3604010000000001"]
    niks += ["".join(rng.choice("0123456789") for _ in range(6)) + rng.choice(["0" * 10, "0" * 9 + "1"]) for _ in range(200)]
    niks += ["".join(rng.choice("0123456789") for _ in range(16)) for _ in range(500)]
    digits, valid, untrusted = nik_facts(pd.Series(niks, dtype="str"))
    assert valid.tolist() == [re.fullmatch(DUMMY_NIK, n) is None for n in niks]
    assert not untrusted.any() and digits.tolist() == niks
