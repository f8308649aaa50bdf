"""The dbt-like SQL runner: every ``dbt_like_sql/<layer>/<name>.sql`` becomes one asset.

* Asset key ``[layer, name]`` = DuckDB table ``layer.name`` = file name.
* Upstream assets are the tables the SELECT reads, found by parsing it with DuckDB's own parser
  (``json_serialize_sql``; CTE names excluded), so the graph in the UI is exactly the data flow.
* The model is rebuilt with ``create or replace table`` inside one transaction; column and table
  descriptions from the YAML beside it become ``COMMENT ON`` (BI tools show them).
* A model whose YAML says ``config: {partition_by: period}`` is a monthly-partitioned asset: a run
  over some months deletes and re-inserts exactly those months' rows (the full table is built
  only when it does not exist yet or its columns changed), and its tests look at those months.
* Each model's docs and tests live in ``<name>.yml`` beside ``<name>.sql`` (dbt's ``models:``
  schema, one entry). Its tests (``unique``, ``not_null``, ``accepted_values``, ``relationships``,
  ``expression_is_true``) become Dagster asset checks; ``severity: warn`` makes one advisory,
  otherwise it is blocking. Its ``unit_tests:`` (given rows, expected rows) are run by
  :mod:`pipelines.sql_engine.unit_tests`, not by Dagster.
* ``sources.yml`` (dbt's ``sources:`` schema) declares the tables built in Python that models read;
  a model reading a table that is neither a model nor a declared source fails at load time.

The parsing here is pure; building a model in DuckDB is :mod:`pipelines.sql_engine.build`, and
:func:`build_sql_assets` is the Dagster glue.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

SOURCES_FILE = "sources.yml"
# libyaml's loader when PyYAML was built with it: the same documents, a tenth of the time (every
# process that loads the definitions reads the 28 model YAMLs).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader


class SqlModelError(ValueError):
    """A model that cannot be wired: unknown upstream table, bad YAML test, parse failure."""


@dataclass(frozen=True)
class ModelTest:
    kind: str
    column: str | None
    args: dict
    severity: str = "error"

    @property
    def name(self) -> str:
        if self.kind == "unique" and self.column is None:
            return "unique_" + "_".join(self.args["columns"])
        if self.kind == "numeric_columns_finite":
            return "numeric_columns_finite"
        if self.kind == "expression_is_true":
            digest = hashlib.sha256(self.args["expression"].encode()).hexdigest()[:8]
            return self.args.get("name") or f"expression_is_true_{digest}"
        return f"{self.column}_{self.kind}"


@dataclass
class SqlModel:
    layer: str
    name: str
    path: Path
    sql: str
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    tests: list[ModelTest] = field(default_factory=list)
    partition_by: str | None = None
    unit_tests: list[dict] = field(default_factory=list)
    compression: dict[str, str] = field(default_factory=dict)  # column -> DuckDB compression (config)

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def upstream_tables(self) -> set[str]:
        return set(_cached_refs(self.sql))


def table_refs(sql: str) -> set[str]:
    """``schema.table`` names a SELECT reads, CTE names excluded.

    The SQL is parsed by DuckDB itself (``json_serialize_sql``: the parse tree, nothing bound or
    run), so what counts as a table read is what DuckDB will read: every ``BASE_TABLE`` node in
    the tree, subqueries, joins and set operations included; table functions such as ``range()``
    or ``read_csv()`` are other nodes. Measured on the 28 models (2026-12-02, a busy machine, the same
    references found in every model and fixture): 0.10 s CPU, against 0.35 s for sqlglot's import
    and parse, paid on every load of the definitions.
    """
    tree = _parse_tree(sql)
    ctes: set[str] = set()
    tables: list[dict] = []
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes.update(entry["key"] for entry in cte_map.get("map", []))
        if node.get("type") == "BASE_TABLE":
            tables.append(node)
    refs = set()
    for table in tables:
        schema, name = table.get("schema_name", ""), table.get("table_name", "")
        if not name or (not schema and name in ctes):
            continue
        if not schema:
            raise SqlModelError(f"table {name!r} must be schema-qualified (layer.table)")
        refs.add(f"{schema}.{name}")
    return refs


_PARSER = threading.local()


def _parse_tree(sql: str) -> dict:
    con = getattr(_PARSER, "con", None)
    if con is None:
        con = _PARSER.con = duckdb.connect(":memory:")
    tree = json.loads(con.execute("select json_serialize_sql(?::varchar)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise SqlModelError(f"cannot parse SQL: {tree.get('error_message', 'not a SELECT')}")
    return tree


def _nodes(value) -> Iterator[dict]:
    """Every dict in a parse tree (depth first, iteratively: a deep tree is no recursion limit)."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            yield item
            todo.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            todo.extend(v for v in item if isinstance(v, dict | list))


@functools.lru_cache(maxsize=1024)
def _cached_refs(sql: str) -> frozenset[str]:
    # Loading the definitions checks every model's reads and then wires its deps: parse once.
    return frozenset(table_refs(sql))


def _first_comment(sql: str) -> str:
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            return stripped.lstrip("-").strip()
        if stripped:
            break
    return ""


def _parse_tests(model: str, column: str | None, raw_tests: list) -> list[ModelTest]:
    tests = []
    for item in raw_tests or []:
        if isinstance(item, str):
            kind, args = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            kind, args = next(iter(item.items()))
            args = dict(args or {})
        else:
            raise SqlModelError(f"{model}: cannot read test {item!r}")
        severity = str(args.pop("severity", "error")).lower()
        if kind not in {"unique", "not_null", "accepted_values", "relationships", "expression_is_true"}:
            raise SqlModelError(f"{model}: unknown test {kind!r}")
        if kind in {"not_null", "accepted_values", "relationships"} and column is None:
            raise SqlModelError(f"{model}: {kind} is a column test")
        if kind == "unique" and column is None and not args.get("columns"):
            raise SqlModelError(f"{model}: model-level unique needs columns")
        if kind == "accepted_values" and "values" not in args:
            raise SqlModelError(f"{model}.{column}: accepted_values needs values")
        if kind == "relationships" and not {"to", "field"} <= set(args):
            raise SqlModelError(f"{model}.{column}: relationships needs to and field")
        if kind == "expression_is_true" and "expression" not in args:
            raise SqlModelError(f"{model}: expression_is_true needs expression")
        tests.append(ModelTest(kind, column, args, severity))
    return tests


_YAML_KEYS = {"version", "models", "unit_tests"}


def _apply_entry(model: SqlModel, yml: Path, entry: dict) -> None:
    """Docs, config and tests of the one ``models:`` entry of ``yml`` onto ``model``."""
    if not isinstance(entry, dict) or entry.get("name") != model.name:
        name = entry.get("name") if isinstance(entry, dict) else entry
        raise SqlModelError(f"{yml}: model entry {name!r} does not match its file {model.name}.sql")
    table = model.table
    model.description = entry.get("description", model.description).strip()
    config = entry.get("config") or {}
    model.partition_by = config.get("partition_by")
    model.compression = _compression(yml, config.get("compression"))
    model.tests.extend(_parse_tests(table, None, entry.get("tests")))
    for col in entry.get("columns", []):
        if col.get("description"):
            model.columns[col["name"]] = col["description"].strip()
        model.tests.extend(_parse_tests(table, col["name"], col.get("tests")))


_COMPRESSIONS = {"zstd", "uncompressed", "rle", "bitpacking", "alp", "alprd", "chimp", "patas", "roaring"}


def _compression(yml: Path, raw) -> dict[str, str]:
    """``config: {compression: {column: zstd}}``: the DuckDB compression of some columns (e.g. the
    random 32-character pseudonyms, which DuckDB's automatic dictionary + FSST spends time on for
    nothing); the others keep DuckDB's choice."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise SqlModelError(f"{yml}: config compression maps column names to a compression, e.g. {{child_id: zstd}}")
    bad = {v for v in raw.values() if v.lower() not in _COMPRESSIONS}
    if bad:
        raise SqlModelError(f"{yml}: unknown compression {sorted(bad)} (one of {sorted(_COMPRESSIONS)})")
    return {k: v.lower() for k, v in raw.items()}


def _apply_unit_tests(model: SqlModel, yml: Path, raw_tests) -> None:
    """Keep the ``unit_tests:`` of ``yml`` on ``model`` (run by :mod:`pipelines.sql_engine.unit_tests`)."""
    names = set()
    for test in raw_tests or []:
        if not isinstance(test, dict) or not test.get("name"):
            raise SqlModelError(f"{yml}: a unit test needs a name: {test!r}")
        if test.get("model") != model.name:
            raise SqlModelError(
                f"{yml}: unit test {test['name']!r} is for model {test.get('model')!r}, not {model.name}"
            )
        if test["name"] in names:
            raise SqlModelError(f"{yml}: unit test {test['name']!r} is declared twice")
        names.add(test["name"])
        model.unit_tests.append(test)


def _load_model(path: Path) -> SqlModel:
    """One model from ``<layer>/<name>.sql`` and, when present, the ``<name>.yml`` beside it (dbt's
    ``models:`` schema with the one entry of this model, and its ``unit_tests:``)."""
    sql = path.read_text(encoding="utf-8")
    model = SqlModel(path.parent.name, path.stem, path, sql, description=_first_comment(sql))
    yml = path.with_suffix(".yml")
    if not yml.exists():
        return _with_finite_test(model)
    doc = _read_yaml(yml) or {}
    if not isinstance(doc, dict) or set(doc) - _YAML_KEYS:
        keys = sorted(set(doc) - _YAML_KEYS) if isinstance(doc, dict) else doc
        raise SqlModelError(f"{yml}: unexpected top-level keys {keys!r} (allowed: {sorted(_YAML_KEYS)})")
    entries = doc.get("models") or []
    if len(entries) > 1:
        raise SqlModelError(f"{yml}: {len(entries)} model entries; one YAML per model")
    for entry in entries:
        _apply_entry(model, yml, entry)
    _apply_unit_tests(model, yml, doc.get("unit_tests"))
    return _with_finite_test(model)


def _with_finite_test(model: SqlModel) -> SqlModel:
    """Every mart gets a blocking ``numeric_columns_finite`` test: no inf or NaN in any float
    column. Its columns are found when it runs (:func:`~pipelines.sql_engine.model_tests.float_columns`), so a new column is covered
    without anyone listing it."""
    if model.layer == "marts":
        model.tests.append(ModelTest("numeric_columns_finite", None, {}, "error"))
    return model


def discover_sources(sql_dir: Path) -> set[str]:
    """``schema.table`` names declared in ``sql_dir/sources.yml`` (dbt's ``sources:`` schema): the
    tables models read that Python assets build. No file declares none."""
    path = sql_dir / SOURCES_FILE
    if not path.exists():
        return set()
    doc = _read_yaml(path) or {}
    tables = set()
    for source in doc.get("sources") or []:
        schema = source.get("schema", source["name"])
        for table in source.get("tables") or []:
            name = table["name"] if isinstance(table, dict) else table
            identifier = table.get("identifier", name) if isinstance(table, dict) else name
            tables.add(f"{schema}.{identifier}")
    return tables


def _check_reads(models: dict[str, SqlModel], sources: set[str], sql_dir: Path) -> None:
    """Every table a model reads is a model or a declared source; no source is also a model."""
    for table in sorted(sources & set(models)):
        raise SqlModelError(f"{sql_dir / SOURCES_FILE}: {table} is declared as a source but is a model")
    for model in models.values():
        for ref in sorted(model.upstream_tables - set(models) - sources):
            raise SqlModelError(
                f"{model.path}: reads {ref}, which is neither a model nor a source declared in "
                f"{sql_dir / SOURCES_FILE}"
            )


def discover_models(sql_dir: Path) -> list[SqlModel]:
    """All models under ``sql_dir``, with their YAML docs, tests and unit tests, sorted by table
    name. A YAML without its SQL, a model entry named unlike its file, or a read of a table that is
    neither a model nor a declared source is a :class:`SqlModelError`."""
    models: dict[str, SqlModel] = {}
    for path in sorted(sql_dir.glob("*/*.sql")):
        model = _load_model(path)
        models[model.table] = model
    for yml in sorted([*sql_dir.glob("*/*.yml"), *sql_dir.glob("*/*.yaml")]):
        if yml.suffix == ".yaml":
            raise SqlModelError(f"{yml}: a model's YAML is named <name>.yml")
        if not yml.with_suffix(".sql").exists():
            raise SqlModelError(f"{yml}: no SQL file {yml.stem}.sql beside it")
    _check_reads(models, discover_sources(sql_dir), sql_dir)
    return [models[k] for k in sorted(models)]


def _q(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _body(model: SqlModel) -> str:
    return model.sql.strip().rstrip(";")


def partition_filter(model: SqlModel, months) -> str:
    from pipelines.periods import period_filter_sql

    return period_filter_sql(model.partition_by, months)
