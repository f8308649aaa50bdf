"""A stand-in for the real parser in ingestion unit tests: each line of a file is one row (only its
``row_number``, a column of every raw stream table); a line ``reject`` is a rejected row, a line
``null`` a kept row that lost one value (a value reject), a file starting ``bad`` is rejected whole
and one starting ``crash`` makes the parser raise.

Identity, as the real parser tells it: the hints' submitter and period when given; else a first line
``@<submitter_code> <period>`` (e.g. ``@36.01.01 2024-08``, the rows' common region and month, not a
row itself); else the file is refused ``submitter_unknown``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.parsing.file_identity import FileIdentity, submitter_level
from pipelines.parsing.parse import ParseResult
from pipelines.parsing.parse_context import REJECT_COLUMNS


def _rejects(numbers: list[int], nulled: list[int] = ()) -> pd.DataFrame:
    n = len(numbers) + len(nulled)
    return pd.DataFrame({
        "row_number": pd.Series([*numbers, *nulled], dtype="int64"), "column": ["village_code"] * n,
        "reason_code": ["invalid"] * n, "detail": ["toy reject"] * n,
        "payload": ["{}"] * len(numbers) + [None] * len(nulled),
        "level": ["row"] * len(numbers) + ["value"] * len(nulled),
        "original_value": [None] * len(numbers) + ["x"] * len(nulled),
    }, columns=list(REJECT_COLUMNS))


def _identity(lines: list[str], hint) -> FileIdentity | None:
    if hint is not None and hint.submitter_code and hint.period:
        return FileIdentity(submitter_level(hint.submitter_code), hint.submitter_code, hint.period)
    if lines and lines[0].startswith("@"):
        code, period = lines[0][1:].split()
        return FileIdentity(submitter_level(code), code, period)
    return None


def toy_parse(stream: str, files: list[tuple[str, bytes]], hints=None) -> list[ParseResult]:
    out = []
    for i, (_, content) in enumerate(files):
        if content.startswith(b"crash"):
            raise RuntimeError("toy parser bug")
        if content.startswith(b"bad"):
            out.append(ParseResult(pd.DataFrame(), _rejects([]), "undecodable: toy", 0))
            continue
        lines = content.decode().splitlines()
        identity = _identity(lines, hints[i] if hints else None)
        if identity is None:
            out.append(ParseResult(pd.DataFrame(), _rejects([]), "submitter_unknown: toy rows tell none", 0))
            continue
        lines = lines[1:] if lines and lines[0].startswith("@") else lines
        numbers = np.arange(2, len(lines) + 2)
        kept = [i for i, line in enumerate(lines) if line != "reject"]
        rows = pd.DataFrame({"row_number": numbers[kept].astype("int64")})
        rejected = [int(numbers[i]) for i, line in enumerate(lines) if line == "reject"]
        nulled = [int(numbers[i]) for i, line in enumerate(lines) if line == "null"]
        out.append(ParseResult(rows, _rejects(rejected, nulled), None, len(lines), identity=identity))
    return out
