"""A stand-in for the real parser in ingestion unit tests: each line of a file is one row (only its
``row_number``, a column of every raw stream table); a line ``reject`` is a rejected row, a line
``null`` a kept row that lost one value (a value reject), a file starting ``bad`` is rejected whole
and one starting ``crash`` makes the parser raise."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def toy_parse(stream: str, files: list[tuple[str, bytes]]) -> list[ParseResult]:
    out = []
    for _, content in files:
        if content.startswith(b"crash"):
            raise RuntimeError("toy parser bug")
        if content.startswith(b"bad"):
            out.append(ParseResult(pd.DataFrame(), _rejects([]), "undecodable: toy", 0))
            continue
        lines = content.decode().splitlines()
        numbers = np.arange(2, len(lines) + 2)
        kept = [i for i, line in enumerate(lines) if line != "reject"]
        rows = pd.DataFrame({"row_number": numbers[kept].astype("int64")})
        rejected = [int(numbers[i]) for i, line in enumerate(lines) if line == "reject"]
        nulled = [int(numbers[i]) for i, line in enumerate(lines) if line == "null"]
        out.append(ParseResult(rows, _rejects(rejected, nulled), None, len(lines)))
    return out
