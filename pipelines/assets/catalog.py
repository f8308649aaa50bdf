"""What the Dagster UI shows about each table: its columns (``dagster/column_schema``: name, DuckDB
type, and the description BI tools see as the column comment) and the file that builds it
(``dagster/code_references``).

SQL models take their descriptions from the YAML beside them and their types from running their
SELECT over empty tables (:mod:`pipelines.sql_engine.schema`); Python-built tables take both from
their declaration in :mod:`pipelines.tables` (types, and column comments where declared). The publish and
report assets are files, not tables: they carry code references only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from dagster import (
    AssetKey,
    AssetSpec,
    CodeReferencesMetadataValue,
    LocalFileCodeReference,
    TableColumn,
    TableSchema,
    map_asset_specs,
)

from pipelines import tables
from pipelines.settings import PROJECT_ROOT
from pipelines.sql_engine.models import SqlModel
from pipelines.sql_engine.schema import model_column_types

# Code references are "beta" in Dagster 1.13; we rely on them knowingly (a link in the UI only).
warnings.filterwarnings("ignore", message=r".*(LocalFileCodeReference|CodeReferencesMetadataValue).*beta")

COLUMN_SCHEMA = "dagster/column_schema"
CODE_REFERENCES = "dagster/code_references"

# Assets that are files rather than tables: the modules that build them.
FILE_ASSETS = {
    AssetKey(["publish", "warehouse_file"]): ("pipelines/assets/publish.py", "pipelines/publishing/publish.py"),
    AssetKey(["reports", "quality_report"]): ("pipelines/assets/report.py", "pipelines/reports/quality_report.py"),
}


def _line_of(path: Path, function: str) -> int | None:
    """Line of ``def function`` in ``path`` (None if absent), so the link opens on the builder."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.lstrip().startswith(f"def {function}("):
            return number
    return None


def _refs(*files: tuple[Path, int | None]) -> CodeReferencesMetadataValue:
    return CodeReferencesMetadataValue(code_references=[
        LocalFileCodeReference(file_path=str(path), line_number=line, label=str(path.relative_to(PROJECT_ROOT)))
        for path, line in files
    ])


def _schema(columns: Iterable[tuple[str, str]], descriptions: dict[str, str]) -> TableSchema:
    return TableSchema(columns=[TableColumn(name, type_, description=descriptions.get(name)) for name, type_ in columns])


def table_metadata(models: Sequence[SqlModel]) -> dict[AssetKey, dict]:
    """``asset key -> {column_schema, code_references}`` for every table and file asset."""
    out: dict[AssetKey, dict] = {}
    types = model_column_types(models, [spec.create_sql() for spec in tables.TABLES.values()])
    for model in models:
        meta = {CODE_REFERENCES: _refs((model.path.resolve(), None))}
        if model.table in types:
            meta[COLUMN_SCHEMA] = _schema(types[model.table], model.columns)
        out[tables.key(model.table)] = meta
    for spec in tables.TABLES.values():
        if spec.is_asset:
            path = PROJECT_ROOT / spec.source_file
            out[spec.key] = {COLUMN_SCHEMA: _schema(spec.columns, spec.column_docs),
                             CODE_REFERENCES: _refs((path, _line_of(path, spec.built_by.split(":")[1])))}
    for key, files in FILE_ASSETS.items():
        out[key] = {CODE_REFERENCES: _refs(*((PROJECT_ROOT / f, None) for f in files))}
    return out


def with_table_metadata(assets: Sequence, models: Sequence[SqlModel]) -> Sequence:
    """``assets`` with :func:`table_metadata` added to each spec's definition metadata."""
    meta = table_metadata(models)

    def add(spec: AssetSpec) -> AssetSpec:
        return spec.merge_attributes(metadata=meta.get(spec.key, {}))

    return map_asset_specs(add, assets)
