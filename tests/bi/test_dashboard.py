"""The Evidence dashboard (dashboards/), built from a really published warehouse and rendered by a
real headless Chromium, shows the marts' own figures.

The warehouse is the BI tests' session fixture (``published``: a real ``konvergensi run`` of the
small synthetic set, tests/bi/conftest.py). `dashboards/build.sh` builds the static site from that
file into dashboards/build/ (npm ci only when node_modules is missing or stale), a
loopback HTTP server started here serves it, and Chromium renders each page (`--dump-dom` after
`--virtual-time-budget`, as in tests/test_ui_browser.py). The figures in the rendered tables are
then compared, cell by cell, with the same marts read by DuckDB from the same file; screenshots go
to warehouse/reports/dashboard_<page>.png. Skips when node/npm or Chromium are absent.

Expected values are the marts' own, unrounded: a shown figure must have the decimals the page
promises and lie within half a unit of its last decimal of the mart's value, so a figure off by
one unit fails (at an exact tie, .x5, either neighbour passes: DuckDB versions break ties
differently). Counts must match exactly. The comparison is pure logic (:func:`parse_tables`,
:func:`compare_rows`), and test_a_wrong_figure_on_the_page_is_caught feeds it a page with one
figure changed.
"""

from __future__ import annotations

import functools
import html
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from tests.paths import ROOT_DIR
from tests.test_ui_browser import _chromium, _stop
from tests.test_ui_browser import _run_chromium as run_chromium

NODE_MISSING = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
# Marks, not fixtures: the warehouse fixture is session-scoped, so pytest would build it before a
# module-scoped fixture could skip.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(NODE_MISSING), reason=f"{' and '.join(NODE_MISSING)} not installed: the dashboard needs Node 18.13+"
    ),
    pytest.mark.skipif(_chromium() is None, reason="no chromium binary (run .ci/install-chromium.sh)"),
]

DASHBOARDS = ROOT_DIR / "dashboards"
BUILD = DASHBOARDS / "build"
REPORTS = ROOT_DIR / "warehouse" / "reports"
PAGES = {
    "index": "/",
    "stunting": "/stunting/",
    "poverty": "/poverty/",
    "actions": "/actions/",
    "completeness": "/completeness/",
}
# npm ci (~40 s on a fresh clone) plus the Evidence build (~65 s on 2 cores), with room to spare.
BUILD_TIMEOUT_S = 1200
CHROMIUM_TIMEOUT_S = 90
ATTEMPTS = 3
WINDOW = "1400,2400"
# Cell texts the pages print for an empty value.
EMPTY = {"", "-", "–"}
# The English half of the bilingual labels the pages print for each code.
STATUS_EN = {
    "on_track": "On track",
    "at_risk": "At risk",
    "off_track": "Off track",
    "no_survey": "No survey",
    "insufficient_data": "Insufficient data",
    "not_reported": "Not reported",
}
REASON_EN = {
    "coverage_below_threshold": "Coverage below threshold",
    "no_p3ke_data": "No P3KE data",
    "no_population": "No population figure",
}


# ---------------------------------------------------------------- pure logic: reading a page


@dataclass(frozen=True)
class Figure:
    """A mart value as a page should show it: rounded to ``decimals``."""

    value: float
    decimals: int


def fig(value, decimals: int) -> Figure | None:
    return None if value is None else Figure(float(value), decimals)


@dataclass
class Cell:
    text: str
    attrs: dict[str, str]


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[Cell] = field(default_factory=list)
    header: bool = False


@dataclass
class Table:
    headers: list[str]
    rows: list[Row]

    def records(self) -> list[dict[str, Cell]]:
        """Each body row as {header: cell}. A row with fewer cells than headers (the rows under a
        grouped cell spanning several rows) is aligned on the right."""
        out = []
        for row in self.rows:
            heads = self.headers[len(self.headers) - len(row.cells):] if row.cells else []
            out.append(dict(zip(heads, row.cells, strict=True)))
        return out


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._rows: list[Row] | None = None
        self._row: Row | None = None
        self._cell: list[str] | None = None
        self._cell_attrs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._row = Row(attrs)
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._cell_attrs = [], attrs
            self._row.header = self._row.header or tag == "th"

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.cells.append(Cell(" ".join("".join(self._cell).split()), self._cell_attrs))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._rows is not None:
            self._rows.append(self._row)
            self._row = None
        elif tag == "table" and self._rows is not None:
            # A table may have several header rows (column groups above the names): the names
            # are the header row with the most text.
            heads = [r for r in self._rows if r.header]
            head = max(heads, key=lambda r: sum(bool(c.text) for c in r.cells), default=None)
            body = [r for r in self._rows if not r.header and r.cells]
            self.tables.append(Table([c.text for c in head.cells] if head else [], body))
            self._rows = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_tables(dom: str) -> list[Table]:
    parser = _TableParser()
    parser.feed(dom)
    return parser.tables


def find_table(tables: list[Table], *headers: str) -> Table:
    for table in tables:
        if all(h in table.headers for h in headers):
            return table
    shown = [t.headers for t in tables]
    raise AssertionError(f"no table with headers {headers}; tables shown: {shown}")


def keyed(table: Table, key: str) -> dict[str, dict[str, str]]:
    """Body rows as {key cell text: {header: text}}."""
    return {rec[key].text: {h: c.text for h, c in rec.items()} for rec in table.records() if key in rec}


def shown_number(text: str) -> float | None:
    text = text.replace(",", "").replace("%", "").strip()
    if text in EMPTY:
        return None
    return float(text)


def shows_figure(text: str, want: Figure) -> bool:
    """``text`` is ``want`` rounded to its decimals (a tie may go either way)."""
    try:
        got = shown_number(text)
    except ValueError:
        return False
    if got is None:
        return False
    digits = text.replace(",", "").replace("%", "").strip()
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    half_unit = 0.5 * 10 ** -want.decimals
    return decimals == want.decimals and abs(got - want.value) <= half_unit + 1e-9


def compare_rows(expected: dict[str, dict[str, object]], shown: dict[str, dict[str, str]]) -> list[str]:
    """Mismatches between what the marts say and what a page shows, one line each. A Figure must
    be shown rounded to its decimals, an int exactly, None as an empty cell, and a string must
    appear in the cell (labels are bilingual: the test names one half)."""
    problems = []
    for key, columns in expected.items():
        if key not in shown:
            problems.append(f"{key}: row not shown (rows shown: {sorted(shown)})")
            continue
        for header, want in columns.items():
            if header not in shown[key]:
                problems.append(f"{key}: column {header!r} not shown")
                continue
            text = shown[key][header]
            if want is None:
                ok = text.strip() in EMPTY
            elif isinstance(want, str):
                ok = want in text
            elif isinstance(want, Figure):
                ok = shows_figure(text, want)
            else:
                try:
                    got = shown_number(text)
                except ValueError:
                    got = None
                ok = got is not None and got == int(want)
            if not ok:
                problems.append(f"{key}: {header!r} shows {text!r}, the marts say {want!r}")
    return problems


def element_text(dom: str, testid: str) -> str:
    """Whitespace-normalised text of the element with data-testid=testid (tags dropped)."""
    start = dom.find(f'data-testid="{testid}"')
    assert start >= 0, f"no element with data-testid={testid}"
    start = dom.index(">", start) + 1
    tag = dom.rfind("<", 0, start)
    name = dom[tag + 1:dom.index(" ", tag)]
    end = dom.index(f"</{name}>", start)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom[start:end])).split())


def headline_shows(text: str, want: Figure) -> bool:
    """Some number in a headline's text is ``want`` as rounded for display."""
    return any(shows_figure(token, want) for token in re.findall(r"[-+]?[\d,]*\.?\d+", text))


# ---------------------------------------------------------------- the marts, read independently


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def expected_target_progress(con) -> list[dict]:
    return rows(con, """
        select region_code, region_level, region_name, stunting_status, survey_name, survey_year,
            pct_stunting_survey as survey, pct_target_stunting as target, pct_stunting_gap_to_target as gap,
            pct_stunting_routine_pooled as pooled, pct_stunting_routine_balita_weighted as weighted,
            routine_period, n_children_routine, pct_extreme_poverty_bps as bps,
            pct_extreme_poor_registered as registered, pct_villages_reporting_p3ke as villages_pct,
            actions_status, n_actions_completed, n_actions_expected, n_actions_overdue, pct_opd_realisation
        from marts.mart_target_progress
        where year = (select max(year) from marts.mart_target_progress)
    """)


LATEST_STUNTING = """(select max(period) from marts.fct_stunting_prevalence where indicator = 'stunting')"""


def expected_stunting(con, levels: tuple[str, ...]) -> list[dict]:
    in_levels = ", ".join(f"'{level}'" for level in levels)
    return rows(con, f"""
        select p.region_code, p.region_level, r.region_name, p.n_children, p.n_cases, p.n_flagged,
            p.pct_prevalence_pooled as pooled, p.ci_low, p.ci_high, p.pct_coverage as coverage,
            p.pct_prevalence_balita_weighted as weighted, p.ci_low_balita_weighted as w_low,
            p.ci_high_balita_weighted as w_high
        from marts.fct_stunting_prevalence as p
        join marts.dim_region as r on r.region_code = p.region_code
        where p.indicator = 'stunting' and p.region_level in ({in_levels}) and p.period = {LATEST_STUNTING}
    """)


# ---------------------------------------------------------------- fixtures: warehouse, site, browser


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


@pytest.fixture(scope="module")
def warehouse(published) -> Path:
    """The file a real run published (tests/bi/conftest.py, shared with the SQL client tests)."""
    return published


@pytest.fixture(scope="module")
def site(warehouse, tmp_path_factory) -> Path:
    """dashboards/build/, built by dashboards/build.sh from that warehouse."""
    log_path = tmp_path_factory.mktemp("dashboard_build") / "build.log"
    env = {k: v for k, v in os.environ.items() if k != "KONVERGENSI_WAREHOUSE"}
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["bash", str(DASHBOARDS / "build.sh"), str(warehouse)],
            cwd=ROOT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            proc.wait(timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _stop(proc)
        finally:
            _stop(proc)
    tail = log_path.read_text(errors="replace")[-4000:]
    if proc.returncode != 0:
        pytest.fail(f"dashboards/build.sh failed (exit={proc.returncode}):\n{tail}")
    print(f"dashboard build: {time.monotonic() - started:.1f} s")
    for url in PAGES.values():
        assert (BUILD / url.strip("/") / "index.html").is_file(), f"no page built for {url}"
    return BUILD


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        pass


@pytest.fixture(scope="module")
def base_url(site) -> Iterator[str]:
    """dashboards/build/ served on a free loopback port, as any static host would."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def marts(warehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _run_chromium(chromium: str, tmp: Path, args: list[str]) -> subprocess.CompletedProcess:
    return run_chromium(chromium, tmp, args, window=WINDOW, timeout_s=CHROMIUM_TIMEOUT_S)


@pytest.fixture(scope="module")
def render(chromium, base_url, tmp_path_factory) -> Callable[[str, Callable[[str], bool]], str]:
    """``render(page, ready)``: the page's DOM after its scripts ran, re-rendered while ``ready``
    says no (a cold page can be slow); the caller asserts on what finally came back."""
    tmp = tmp_path_factory.mktemp("chromium")

    def _render(page: str, ready: Callable[[str], bool]) -> str:
        dom = ""
        for _ in range(ATTEMPTS):
            dom = _run_chromium(chromium, tmp, ["--dump-dom", base_url + PAGES[page]]).stdout
            if ready(dom):
                break
        assert "text-negative" not in dom, f"{page}: the page shows an error box"
        return dom

    return _render


def _has(*texts: str) -> Callable[[str], bool]:
    return lambda dom: all(text in dom for text in texts) and 'role="cell"' in dom


# ---------------------------------------------------------------- the pages


def test_build_used_the_given_warehouse_and_sent_no_telemetry(site, warehouse):
    import json

    info = json.loads((site / "build-info.json").read_text())
    assert info["warehouse"] == str(warehouse)
    assert info["bytes"] == warehouse.stat().st_size
    # Evidence writes its anonymous-usage profile (../customization/.profile.json, from the
    # project folder) before it sends anything; with telemetry off it never does.
    assert not (ROOT_DIR / "customization" / ".profile.json").exists()
    assert not (DASHBOARDS / ".evidence" / "customization" / ".profile.json").exists()


def test_target_progress_page_shows_survey_and_routine_per_regency(render, marts):
    dom = render("index", _has("Survei / Survey (%)", "Melewati batas waktu / Overdue"))
    tables = parse_tables(dom)
    progress = expected_target_progress(marts)
    assert len(progress) == 9, "8 regencies and the province"

    stunting = keyed(find_table(tables, "Wilayah / Region", "Survei / Survey (%)"), "Wilayah / Region")
    want = {
        r["region_name"]: {
            "Status": STATUS_EN[r["stunting_status"]],
            "Dasar status: survei / Basis: survey": f"{r['survey_name']} {r['survey_year']}" if r["survey_name"] else "No survey",
            "Survei / Survey (%)": fig(r["survey"], 1),
            "Target (%)": fig(r["target"], 1),
            "Selisih / Gap (pp)": fig(r["gap"], 1),
            "Rutin gabungan / Routine pooled (%)": fig(r["pooled"], 1),
            "Rutin tertimbang balita / Routine balita-weighted (%)": fig(r["weighted"], 1),
            "Bulan rutin / Routine month": r["routine_period"],
            "Balita diukur / Children measured": r["n_children_routine"],
        }
        for r in progress
    }
    assert compare_rows(want, stunting) == []
    assert len(stunting) == len(progress)

    others = keyed(find_table(tables, "Wilayah / Region", "Melewati batas waktu / Overdue"), "Wilayah / Region")
    want = {
        r["region_name"]: {
            "Kemiskinan ekstrem BPS / BPS extreme poverty (%)": fig(r["bps"], 2),
            "Terdaftar P3KE / P3KE registered (%)": fig(r["registered"], 2),
            "Desa melapor P3KE / Villages reporting P3KE (%)": fig(r["villages_pct"], 2),
            "Status 8 aksi / 8 actions status": STATUS_EN[r["actions_status"]],
            "Aksi selesai / Actions done": r["n_actions_completed"],
            "Aksi wajib / Actions expected": r["n_actions_expected"],
            "Melewati batas waktu / Overdue": r["n_actions_overdue"],
            "Realisasi OPD / OPD realisation (%)": fig(r["pct_opd_realisation"], 2),
        }
        for r in progress
    }
    assert compare_rows(want, others) == []

    province = next(r for r in progress if r["region_level"] == "province")
    headline = element_text(dom, "province-headline")
    assert STATUS_EN[province["stunting_status"]] in headline, headline
    for key in ("survey", "weighted"):
        assert headline_shows(headline, Figure(province[key], 1)), f"{key}={province[key]} not in {headline!r}"


def test_stunting_page_shows_prevalence_with_ci_per_regency_and_district(render, marts):
    dom = render("stunting", _has("IK 95% bawah / 95% CI low", "Kecamatan / District"))
    tables = parse_tables(dom)

    regency_rows = expected_stunting(marts, ("province", "regency"))
    assert len(regency_rows) == 9
    shown = keyed(find_table(tables, "Wilayah / Region", "IK 95% bawah / 95% CI low"), "Wilayah / Region")
    want = {
        r["region_name"]: {
            "Balita diukur / Children measured": r["n_children"],
            "Kasus / Cases": r["n_cases"],
            "Prevalensi / Prevalence (%)": fig(r["pooled"], 1),
            "IK 95% bawah / 95% CI low": fig(r["ci_low"], 1),
            "IK 95% atas / 95% CI high": fig(r["ci_high"], 1),
            "Data tidak wajar / WHO-flagged": r["n_flagged"],
            "Cakupan pengukuran / Measurement coverage (%)": fig(r["coverage"], 2),
        }
        for r in regency_rows
    }
    assert compare_rows(want, shown) == []

    district_rows = expected_stunting(marts, ("district",))
    assert len(district_rows) > 100
    shown = keyed(find_table(tables, "Kecamatan / District", "Kode / Code"), "Kode / Code")
    want = {
        r["region_code"]: {
            "Kecamatan / District": r["region_name"],
            "Balita diukur / Children measured": r["n_children"],
            "Kasus / Cases": r["n_cases"],
            "Prevalensi / Prevalence (%)": fig(r["pooled"], 1),
            "IK 95% bawah / 95% CI low": fig(r["ci_low"], 1),
            "IK 95% atas / 95% CI high": fig(r["ci_high"], 1),
        }
        for r in district_rows
    }
    assert compare_rows(want, shown) == []
    assert len(shown) == len(district_rows), "every district of the month is listed"

    province = next(r for r in regency_rows if r["region_level"] == "province")
    headline = element_text(dom, "province-weighted")
    for key in ("pooled", "ci_low", "ci_high", "weighted", "w_low", "w_high"):
        assert headline_shows(headline, Figure(province[key], 1)), f"{key}={province[key]} not in {headline!r}"


def test_poverty_page_shows_bps_rate_and_registered_rate_with_coverage(render, marts):
    dom = render("poverty", _has("Kemiskinan ekstrem BPS / BPS extreme poverty (%)", "PKH (%)"))
    tables = parse_tables(dom)
    poverty = rows(marts, """
        select coalesce(r.region_name, e.region_code) as region_name,
            e.pct_extreme_poverty_bps as bps, e.pct_target_extreme_poverty as target,
            e.pct_extreme_poor_registered as registered, e.pct_extreme_poor_registered_missing_reason as reason,
            e.n_villages_reporting, e.n_villages, e.pct_villages_reporting as villages_pct,
            e.pct_population_covered as population_pct, e.n_households_desil_1,
            e.pct_desil_1_pkh as pkh, e.pct_desil_1_no_assistance as no_assistance
        from marts.fct_extreme_poverty as e
        left join marts.dim_region as r on r.region_code = e.region_code
        where e.region_level in ('province', 'regency')
          and e.year = (select max(year) from marts.fct_extreme_poverty)
    """)
    assert len(poverty) == 9

    rates = keyed(find_table(tables, "Wilayah / Region", "Kemiskinan ekstrem BPS / BPS extreme poverty (%)"), "Wilayah / Region")
    want = {
        r["region_name"]: {
            "Kemiskinan ekstrem BPS / BPS extreme poverty (%)": fig(r["bps"], 2),
            "Target (%)": fig(r["target"], 2),
            # the rate, or why it is empty
            "Terdaftar P3KE / P3KE registered (%)": (
                fig(r["registered"], 2) if r["registered"] is not None else REASON_EN[r["reason"]]
            ),
        }
        for r in poverty
    }
    assert compare_rows(want, rates) == []

    coverage = keyed(find_table(tables, "Wilayah / Region", "PKH (%)"), "Wilayah / Region")
    want = {
        r["region_name"]: {
            "Desa melapor / Villages reporting": r["n_villages_reporting"],
            "Jumlah desa / Villages": r["n_villages"],
            "Desa melapor / Villages reporting (%)": fig(r["villages_pct"], 2),
            "Penduduk terwakili / Population covered (%)": fig(r["population_pct"], 2),
            "Keluarga desil 1 / Desil-1 households": r["n_households_desil_1"],
            "PKH (%)": fig(r["pkh"], 2),
            "Tanpa bantuan / No assistance (%)": fig(r["no_assistance"], 2),
        }
        for r in poverty
    }
    assert compare_rows(want, coverage) == []


def test_actions_grid_shows_each_status_and_marks_the_overdue_ones(render, marts):
    dom = render("actions", lambda d: d.count("data-action=") >= 64 and 'role="cell"' in d)
    status = rows(marts, """
        select regency_code, action_no, status, is_overdue
        from marts.fct_convergence_action_status
        where year = (select max(year) from marts.fct_convergence_action_status)
    """)
    assert len(status) == 64, "8 actions x 8 regencies"

    grid = next(t for t in parse_tables(dom) if any("data-regency" in r.attrs for r in t.rows))
    cells = {
        (row.attrs["data-regency"], int(cell.attrs["data-action"])): cell
        for row in grid.rows for cell in row.cells if "data-action" in cell.attrs
    }
    assert len(cells) == 64
    problems = []
    for r in status:
        cell = cells.get((r["regency_code"], r["action_no"]))
        if cell is None:
            problems.append(f"{r['regency_code']} aksi {r['action_no']}: no cell")
            continue
        overdue_shown = cell.attrs.get("data-overdue") == "true" and cell.text.startswith("⚠")
        if cell.attrs.get("data-status") != r["status"] or overdue_shown != bool(r["is_overdue"]):
            problems.append(f"{r['regency_code']} aksi {r['action_no']}: shows {cell.attrs} {cell.text!r}, marts say {r}")
    assert problems == []

    n_overdue = sum(bool(r["is_overdue"]) for r in status)
    assert sum(c.text.startswith("⚠") for c in cells.values()) == n_overdue
    assert f"{n_overdue} aksi melewati batas waktu" in element_text(dom, "actions-summary")
    per_regency = {row.attrs["data-regency"]: row for row in grid.rows if "data-regency" in row.attrs}
    for code, row in per_regency.items():
        shown = next(c.text for c in row.cells if c.attrs.get("data-col") == "n_overdue")
        assert int(shown) == sum(bool(r["is_overdue"]) for r in status if r["regency_code"] == code), code

    overdue_table = find_table(parse_tables(dom), "Hari terlambat / Days overdue")
    assert len(overdue_table.rows) == n_overdue


def test_completeness_page_counts_who_has_not_reported(render, marts):
    dom = render("completeness", _has("Kode laporan / Stream code", "Desa belum melapor / Villages not reported"))
    tables = parse_tables(dom)
    latest = """
        with latest as (select stream, max(period) as period from marts.mart_submission_completeness group by stream)
        select c.* from marts.mart_submission_completeness as c
        join latest as l on l.stream = c.stream and l.period = c.period
        where c.is_expected_submitter
    """
    summary = rows(marts, f"""
        select stream, any_value(period) as period, count(*) as expected,
            count(*) filter (where is_submitted) as submitted,
            count(*) filter (where submission_status = 'on_time') as on_time,
            count(*) filter (where submission_status = 'late') as late,
            count(*) filter (where submission_status = 'missing') as missing,
            count(*) filter (where submission_status = 'rejected_only') as rejected_only
        from ({latest}) group by stream
    """)
    assert {r["stream"] for r in summary} >= {"child_measurements", "households", "opd_programmes"}
    shown = keyed(find_table(tables, "Kode laporan / Stream code"), "Kode laporan / Stream code")
    want = {
        r["stream"]: {
            "Periode / Period": r["period"],
            "Wajib lapor / Expected": r["expected"],
            "Sudah melapor / Reported": r["submitted"],
            "Tepat waktu / On time": r["on_time"],
            "Terlambat / Late": r["late"],
            "Belum melapor / Missing": r["missing"],
            "Hanya ditolak / Rejected only": r["rejected_only"],
        }
        for r in summary
    }
    assert compare_rows(want, shown) == []
    assert len(shown) == len(summary)

    monthly = next(r for r in summary if r["stream"] == "child_measurements")
    headline = element_text(dom, "monthly-headline")
    assert f"{monthly['missing']:,} desa belum melapor" in headline, headline
    assert monthly["period"] in headline

    by_regency = rows(marts, f"""
        select r.regency_code, count(*) as n
        from ({latest}) as c join marts.dim_region as r on r.region_code = c.region_code
        where c.stream = 'child_measurements' and not c.is_submitted
        group by r.regency_code
    """)
    shown = keyed(find_table(tables, "Desa belum melapor / Villages not reported"), "Kode / Code")
    want = {r["regency_code"]: {"Desa belum melapor / Villages not reported": r["n"]} for r in by_regency}
    assert compare_rows(want, shown) == []
    assert sum(r["n"] for r in by_regency) == monthly["expected"] - monthly["submitted"]

    not_villages = rows(marts, f"select submitter_code from ({latest}) where submitter_level <> 'village' and not is_submitted")
    shown = keyed(find_table(tables, "Pelapor / Submitter"), "Kode / Code")
    assert set(shown) == {r["submitter_code"] for r in not_villages}


def test_a_wrong_figure_on_the_page_is_caught(render, marts):
    """The comparison fails when one cell of a page differs from the marts."""
    dom = render("stunting", _has("IK 95% bawah / 95% CI low"))
    regency = next(r for r in expected_stunting(marts, ("regency",)) if r["region_code"] == "36.01")
    want = Figure(regency["pooled"], 1)

    def problems(page: str) -> list[str]:
        table = find_table(parse_tables(page), "Wilayah / Region", "IK 95% bawah / 95% CI low")
        return compare_rows(
            {regency["region_name"]: {"Prevalensi / Prevalence (%)": want}}, keyed(table, "Wilayah / Region")
        )

    table = find_table(parse_tables(dom), "Wilayah / Region", "IK 95% bawah / 95% CI low")
    shown = keyed(table, "Wilayah / Region")[regency["region_name"]]["Prevalensi / Prevalence (%)"]
    # one unit of the last decimal off, on the side away from the mart's value
    wrong = float(shown) + 0.1
    if shows_figure(f"{wrong:.1f}", want):
        wrong = float(shown) - 0.1
    row_start = dom.index(f">{regency['region_name']}</td>")
    cut = dom.index(f">{shown}</td>", row_start)
    tampered = dom[:cut] + f">{wrong:.1f}</td>" + dom[cut + len(f">{shown}</td>"):]

    assert problems(dom) == []
    found = problems(tampered)
    assert len(found) == 1 and regency["region_name"] in found[0], found


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_is_screenshotted(chromium, base_url, tmp_path, page):
    shot = REPORTS / f"dashboard_{page}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.unlink(missing_ok=True)
    result = None
    for _ in range(ATTEMPTS):
        result = _run_chromium(chromium, tmp_path, [f"--screenshot={shot}", base_url + PAGES[page]])
        if shot.is_file():
            break
    assert shot.is_file(), f"no screenshot written:\n{result.stderr[-2000:] if result else ''}"
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 50_000, f"screenshot is only {len(png)} bytes: an empty page?"
