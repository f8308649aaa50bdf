"""Small helpers for asset metadata shown in the Dagster UI."""

from __future__ import annotations

import pandas as pd
from dagster import MetadataValue


def markdown_table(df: pd.DataFrame, max_rows: int = 10) -> MetadataValue:
    """A Markdown preview (no tabulate dependency); values are already pseudonymised."""
    head = df.head(max_rows)
    if head.empty:
        return MetadataValue.md("_(no rows)_")
    cols = [str(c) for c in head.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head.itertuples(index=False):
        lines.append("| " + " | ".join("" if pd.isna(v) else str(v).replace("|", "\\|") for v in row) + " |")
    return MetadataValue.md("\n".join(lines))
