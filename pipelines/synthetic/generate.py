"""Deterministic synthetic submissions for Banten, laid out as a landing folder.

``generate(out_dir, scale, seed)`` writes ``region_master.csv`` plus one folder per stream of
:data:`pipelines.parsing.layouts.STREAMS`, every file named ``<submitter>_<period>[_note].<ext>``
(:mod:`pipelines.ingestion.identity`) with the exact exported headers of its layout, and every
file's mtime set to a deterministic "received" time (some submissions late). Same scale and
seed give byte-identical files and identical mtimes.

Scales:
    ``small``: two months (2024-07, 2024-08) of e-PPGBM for about two villages per district, the
    same children in both months; plus a corrected ``_revisi`` re-submission, one garbage file
    and one file missing required columns. A few seconds.
    ``banten``: one month (2024-08) for all 1,552 villages, about 1.1 M child measurements and
    about 700 k P3KE households.
    ``national``: one month (2024-08) at Indonesia's volume for the benchmark: Banten plus 52
    synthetic provinces that repeat its geography under other codes (424 regencies, 82,256
    villages), about 25 M child measurements and 15.9 M P3KE households. Provinces are written
    in parallel (``workers``). Regency-level streams (aksi, lokus, survey, OPD) stay Banten's.
    ``national-sample``: the same for one village per district (155 per province).

Personal columns hold synthetic values only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.parsing.layouts import STREAMS
from pipelines.synthetic import generate_children as children
from pipelines.synthetic import generate_eppgbm_files as eppgbm
from pipelines.synthetic import generate_io as gio
from pipelines.synthetic import generate_regency as regency
from pipelines.synthetic import generate_villages as village_streams
from pipelines.synthetic.generate_names import Geography, build_geography

_CHUNK_VILLAGES = 64
_XLSX_SHARE, _BOM_SHARE, _CP1252_SHARE = 0.15, 0.425, 0.10
_VARIANT_SPELLING_SHARE = 0.06


@dataclass(frozen=True)
class Scale:
    child_periods: tuple[str, ...]
    villages_per_district: int | None  # None: every village
    children_mean: float
    children_spread: float
    households_mean: float
    special_files: bool


SCALES = {
    "small": Scale(("2024-07", "2024-08"), 2, 20, 5, 20, True),
    "banten": Scale(("2024-08",), None, 710, 120, 451, False),
    # Indonesia: about 25 M measurements a month over about 83,000 villages (issue 8), so fewer
    # children per village than Banten; P3KE households scaled by the same ratio.
    "national": Scale(("2024-08",), None, 304, 60, 193, False),
    # The national layout (several provinces, national volumes per village) for one village per
    # district: the tests' multi-province month (tests/ingestion/test_dask_cluster.py).
    "national-sample": Scale(("2024-08",), 1, 304, 60, 193, False),
}
NATIONAL_PROVINCES = 53  # x 1,552 villages = 82,256 (Indonesia: about 83,000)


def national_province_codes(n: int = NATIONAL_PROVINCES) -> list[str]:
    """Banten (36) first, then two-digit codes 11, 12, ... skipping 36: synthetic provinces."""
    return ["36", *[f"{c}" for c in range(11, 100) if c != 36][: n - 1]]


def _rng(seed: int, *keys: int) -> np.random.Generator:
    # One independent stream per purpose, so adding a stream never shifts another's values.
    return np.random.default_rng([seed, *keys])


def _sample_villages(geo: Geography, cfg: Scale, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Villages that submit (sorted) and, in ``small``, two spare villages for the broken files."""
    n_vil = len(geo.village_codes)
    if cfg.villages_per_district is None:
        return np.arange(n_vil), np.array([], dtype=int)
    rng = _rng(seed, 1)
    chosen, spare = [], []
    for d in range(len(geo.district_codes)):
        members = np.flatnonzero(geo.village_district == d)
        picked = rng.permutation(members)
        chosen.extend(picked[: cfg.villages_per_district])
        spare.extend(picked[cfg.villages_per_district: cfg.villages_per_district + 1])
    spare = rng.choice(np.array(spare), 2, replace=False)
    return np.sort(np.array(chosen)), np.sort(spare)


def _file_formats(rng, n: int) -> np.ndarray:
    cuts = np.round(np.cumsum([_XLSX_SHARE, _BOM_SHARE, _CP1252_SHARE]) * n).astype(int)
    fmt = np.full(n, "utf-8", dtype=object)
    perm = rng.permutation(n)
    fmt[perm[: cuts[0]]] = "xlsx"
    fmt[perm[cuts[0]: cuts[1]]] = "utf-8-sig"
    fmt[perm[cuts[1]: cuts[2]]] = "cp1252"
    return fmt


def _lateness(rng, shape) -> np.ndarray:
    """Days after the period end at which each submission arrives; about one in ten is late."""
    late = rng.random(shape) < 0.1
    return np.where(late, 12 + 28 * rng.random(shape), 1 + 7 * rng.random(shape))


def _write_child_measurements(out: Path, geo: Geography, cfg: Scale, seed: int) -> tuple[dict, dict]:
    sample, spare = _sample_villages(geo, cfg, seed)
    villages = np.sort(np.concatenate([sample, spare]))
    rng = _rng(seed, 2)
    fmt = _file_formats(rng, len(villages))
    fmt[np.isin(villages, spare)] = "utf-8-sig"
    variant = (rng.random(len(villages)) < _VARIANT_SPELLING_SHARE) & (geo.village_alt_names[villages] != "")
    counts = np.clip(np.round(rng.normal(cfg.children_mean, cfg.children_spread, len(villages))),
                     max(5, cfg.children_mean // 3), None).astype(int)
    late = _lateness(rng, (len(villages), len(cfg.child_periods)))
    garbage = rng.bytes(4096)
    folder = out / "child_measurements"
    folder.mkdir(parents=True, exist_ok=True)
    n_files = n_rows = 0
    special: dict[str, list[str]] = {"broken": [], "missing_columns": [], "revisi": []}
    last = len(cfg.child_periods) - 1

    for start in range(0, len(villages), _CHUNK_VILLAGES):
        sl = slice(start, start + _CHUNK_VILLAGES)
        chunk = villages[sl]
        cp1252 = chunk[fmt[sl] == "cp1252"]
        visits = children.simulate(_rng(seed, 3, start), geo, chunk, counts[sl], list(cfg.child_periods), cp1252)
        for p_no, (period, v) in enumerate(zip(cfg.child_periods, visits, strict=True)):
            bounds = np.searchsorted(v.village, chunk, side="left"), np.searchsorted(v.village, chunk, "right")
            # Format the whole chunk once; per-file work is then slicing and joining.
            text = eppgbm.csv_columns(v.cols) if (fmt[sl] != "xlsx").any() else {}
            for j, vil in enumerate(chunk):
                g = start + j
                lo, hi = int(bounds[0][j]), int(bounds[1][j])
                cols, tcols = v.cols, text
                if variant[g]:
                    cols, tcols = _respell(geo, vil, cols, lo, hi), _respell(geo, vil, text, lo, hi)
                code = str(geo.village_codes[vil])
                ext = "xlsx" if fmt[g] == "xlsx" else "csv"
                path = folder / f"{code}_{period}.{ext}"
                received = gio.received_after(gio.period_end(period), late[g, p_no])
                is_spare = vil in spare and p_no == last
                if is_spare and vil == spare[0]:
                    gio.write_bytes(path, garbage)
                    special["broken"].append(f"child_measurements/{path.name}")
                elif is_spare:
                    n_rows += eppgbm.write_csv(path, tcols, lo, hi, "utf-8-sig", eppgbm.MISSING_HEADERS)
                    special["missing_columns"].append(f"child_measurements/{path.name}")
                elif ext == "xlsx":
                    n_rows += eppgbm.write_xlsx_file(path, cols, lo, hi)
                else:
                    n_rows += eppgbm.write_csv(path, tcols, lo, hi, str(fmt[g]))
                gio.set_received(path, received)
                n_files += 1
            if cfg.special_files and start == 0 and p_no == last:
                n_rows += _write_revisi(folder, geo, v, chunk, fmt[sl], spare, period, late[sl, p_no], special)
                n_files += 1
    return {"files": n_files, "rows": n_rows}, special


def _respell(geo: Geography, vil: int, cols: dict[str, np.ndarray], lo: int, hi: int) -> dict[str, np.ndarray]:
    """Copy of ``cols`` where rows ``lo:hi`` carry the village name with a space added or dropped."""
    if not cols:
        return cols
    out = dict(cols)
    names = np.array(cols["village_name"], dtype=object)
    orig = children.village_spelling(geo, vil, False)
    part = names[lo:hi]
    part[part == orig] = children.village_spelling(geo, vil, True)
    out["village_name"] = names
    return out


def _write_revisi(folder: Path, geo: Geography, v: children.Visits, chunk: np.ndarray, fmt: np.ndarray,
                  spare: np.ndarray, period: str, late: np.ndarray, special: dict) -> int:
    """A corrected re-submission for the CSV village of the chunk with the most quirky rows."""
    quirks = np.array([v.quirked[v.village == vil].sum() for vil in chunk])
    eligible = (fmt != "xlsx") & ~np.isin(chunk, spare)
    j = int(np.argmax(np.where(eligible, quirks, -1)))
    rows = np.flatnonzero(v.village == chunk[j])
    cols = eppgbm.restore_clean(v, rows)
    path = folder / f"{geo.village_codes[chunk[j]]}_{period}_revisi.csv"
    n = eppgbm.write_csv(path, eppgbm.csv_columns(cols), 0, len(rows), str(fmt[j]))
    gio.set_received(path, gio.received_after(gio.period_end(period), late[j] + 3.5))
    special["revisi"].append(f"child_measurements/{path.name}")
    return n


def write_region_master(out: Path, *geos: Geography) -> Path:
    """``region_master.csv`` (``code,level,name,parent_code``) of one or more provinces, shaped like
    the official file."""
    path = out / "region_master.csv"
    rows = [row for geo in geos for row in geo.region_master_rows()]
    content = gio.csv_bytes(("code", "level", "name", "parent_code"), rows, delimiter=",", encoding="utf-8",
                            crlf=False)
    gio.write_bytes(path, content)
    gio.set_received(path, dt.datetime(2025, 1, 2, tzinfo=gio.UTC))
    return path


def _province_geography(code: str) -> Geography:
    return build_geography() if code == "36" else build_geography(code, f"Sintetis {code}")


def _write_province(out: Path, code: str, cfg: Scale, seed: int) -> dict:
    """Village-level streams of one province of the national scale (runs in a worker process)."""
    geo = _province_geography(code)
    seed = seed * 1000 + int(code)  # each province its own children and households
    summary = {"child_measurements": _write_child_measurements(out, geo, cfg, seed)[0]}
    sample, _spare = _sample_villages(geo, cfg, seed)
    summary["households"] = village_streams.write_households(out, geo, sample, cfg.households_mean,
                                                             _rng(seed, 10))
    summary["village_scorecard"] = village_streams.write_scorecards(out, geo, sample, _rng(seed, 11))
    return summary


def _generate_national(out: Path, cfg: Scale, seed: int, workers: int, provinces: int) -> dict:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    codes = national_province_codes(provinces)
    path = write_region_master(out, *(_province_geography(code) for code in codes))
    summary: dict = {"region_master": str(path), "provinces": len(codes)}
    with ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("fork")) as pool:
        for part in pool.map(_write_province, [out] * len(codes), codes, [cfg] * len(codes), [seed] * len(codes)):
            for stream, counts in part.items():
                total = summary.setdefault(stream, {"files": 0, "rows": 0})
                total["files"] += counts["files"]
                total["rows"] += counts["rows"]
    summary["aksi_reports"] = regency.write_aksi(out, _rng(seed, 12))
    geo = build_geography()
    summary["lokus_villages"] = regency.write_lokus(out, geo, _rng(seed, 13))
    summary["survey_figures"] = regency.write_survey(out, _rng(seed, 14))
    summary["opd_programmes"] = regency.write_opd(out, geo, _rng(seed, 15))
    summary["special_files"] = {"broken": [], "missing_columns": [], "revisi": []}
    return summary


def generate(out_dir: Path, scale: str = "small", seed: int = 7, workers: int = 2,
             provinces: int = NATIONAL_PROVINCES) -> dict:
    """Write a complete synthetic landing folder.

    Args:
        out_dir: Folder to fill (created if missing); existing files of the same names are
            overwritten, others are left alone.
        scale: ``"small"``, ``"banten"``, ``"national"`` or ``"national-sample"`` (see the module
            docstring).
        seed: Seed for every random choice except the geography, which is fixed.
        workers: processes writing provinces in parallel (``national`` only).
        provinces: how many provinces ``national`` writes (Banten first; tests use a few).

    Returns:
        ``{stream: {"files": n, "rows": n}}`` for every stream, plus ``"region_master"`` (path
        of the region master) and ``"special_files"`` (relative paths of the deliberately
        broken, incomplete and corrected files, by kind).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    cfg = SCALES[scale]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if scale.startswith("national"):
        return _generate_national(out, cfg, seed, workers, provinces)
    geo = build_geography()
    summary: dict = {"region_master": str(write_region_master(out, geo))}
    summary["child_measurements"], special = _write_child_measurements(out, geo, cfg, seed)
    sample, _spare = _sample_villages(geo, cfg, seed)
    summary["households"] = village_streams.write_households(out, geo, sample, cfg.households_mean,
                                                             _rng(seed, 10))
    summary["village_scorecard"] = village_streams.write_scorecards(out, geo, sample, _rng(seed, 11))
    summary["aksi_reports"] = regency.write_aksi(out, _rng(seed, 12))
    summary["lokus_villages"] = regency.write_lokus(out, geo, _rng(seed, 13))
    summary["survey_figures"] = regency.write_survey(out, _rng(seed, 14))
    summary["opd_programmes"] = regency.write_opd(out, geo, _rng(seed, 15))
    summary["special_files"] = special
    assert all(s in summary for s in STREAMS)
    return summary
