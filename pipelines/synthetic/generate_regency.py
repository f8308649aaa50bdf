"""Regency- and OPD-submitted streams: the 8 aksi konvergensi reports, lokus villages, survey
figures and provincial OPD programmes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from pipelines.parsing.layouts import AKSI_REPORTS, LOKUS_VILLAGES, OPD_PROGRAMMES, SURVEY_FIGURES
from pipelines.synthetic import generate_io as gio
from pipelines.synthetic import generate_names as names
from pipelines.synthetic.generate_xlsx import write_xlsx

YEAR = "2024"
OPD_PERIOD = "2024-Q3"
_FIXED_CREATED = dt.datetime(2025, 1, 5, 9, 0, 0)

# (name, evidence documents, typical completion month) per aksi (DOMAIN.md §7).
AKSI = (
    ("Analisis Situasi Program Penurunan Stunting",
     ("Laporan Analisis Situasi.pdf", "Notulen Rapat Koordinasi.pdf", "Daftar Desa Lokus.xlsx"), 3),
    ("Penyusunan Rencana Kegiatan",
     ("Matriks Rencana Kegiatan OPD.xlsx", "Renja OPD.pdf", "Berita Acara Konsultasi DPRD.pdf"), 5),
    ("Rembuk Stunting",
     ("Berita Acara Rembuk Stunting.pdf", "Kesepakatan Komitmen.pdf", "Daftar Hadir.pdf", "Foto Kegiatan.jpg"), 6),
    ("Peraturan Bupati/Walikota tentang Peran Desa",
     ("Perbup Peran Desa.pdf", "Surat Edaran Camat.pdf"), 4),
    ("Pembinaan Kader Pembangunan Manusia",
     ("SK Penetapan KPM.pdf", "Laporan Pelatihan KPM.pdf", "Rekap Laporan KPM.xlsx"), 8),
    ("Sistem Manajemen Data Stunting",
     ("Laporan Manajemen Data.pdf", "Tangkapan Layar Dashboard.png"), 9),
    ("Pengukuran dan Publikasi Data Stunting",
     ("Rekap e-PPGBM.xlsx", "Publikasi Prevalensi Desa.pdf", "Laporan Audit Kasus Stunting.pdf"), 10),
    ("Reviu Kinerja Tahunan",
     ("Laporan Reviu Kinerja.pdf", "Notulen Reviu.pdf"), 12),
)
_STATUS = ("Belum Dimulai", "Dalam Proses", "Terunggah", "Terverifikasi")
_STATUS_P = (0.1, 0.2, 0.25, 0.45)

# SSGI-2024-like stunting %, SKI 2023-like % (None: not published), 2025 population (DOMAIN.md §2, §8).
_SURVEY = {
    "36.01": (27.1, 29.8, 1_437_046), "36.02": (24.8, None, 1_531_564), "36.03": (20.3, 21.9, 3_459_706),
    "36.04": (25.6, None, 1_791_795), "36.71": (11.2, 13.0, 1_957_349), "36.72": (18.2, None, 480_378),
    "36.73": (22.9, None, 759_929), "36.74": (9.6, None, 1_463_607),
}
# Banten as published: SSGI 2024 stunting 21.1 % (DOMAIN.md §8.1); the extreme-poverty rate, population
# 12.88 M (2025, §2) and under-five estimate are synthetic stand-ins for the BPS/Dinkes release.
_PROVINCE_SURVEY = (21.1, None, 0.77, 12_881_374, 1_159_324)
_EXTREME_POVERTY_2022 = {"36.01": 1.82, "36.02": 2.17, "36.03": 1.52, "36.04": 0.75, "36.71": 0.75,
                         "36.72": 0.45, "36.73": 1.01, "36.74": 0.44}

OPDS = {
    "DINKES": ("Dinas Kesehatan", (
        ("Pemenuhan Upaya Kesehatan", "Pemberian Makanan Tambahan Balita Gizi Kurang", "Spesifik", "balita"),
        ("Pemenuhan Upaya Kesehatan", "Suplementasi Tablet Tambah Darah Remaja Putri", "Spesifik", "orang"),
        ("Pemenuhan Upaya Kesehatan", "Pelatihan Kader Posyandu Antropometri", "Spesifik", "kader"),
        ("Pemenuhan Upaya Kesehatan", "Pengadaan Alat Antropometri Posyandu", "Spesifik", "paket"))),
    "DP3AKKB": ("Dinas Pemberdayaan Perempuan, Perlindungan Anak, Kependudukan dan Keluarga Berencana", (
        ("Pembinaan Keluarga Berencana", "Pendampingan Keluarga Berisiko Stunting", "Sensitif", "keluarga"),
        ("Pembinaan Keluarga Berencana", "Kelas Bina Keluarga Balita", "Sensitif", "kelompok"),
        ("Pembinaan Keluarga Berencana", "Konseling Calon Pengantin", "Sensitif", "pasangan"))),
    "DINSOS": ("Dinas Sosial", (
        ("Perlindungan dan Jaminan Sosial", "Bantuan Pangan Keluarga Miskin Ekstrem", "Sensitif", "keluarga"),
        ("Perlindungan dan Jaminan Sosial", "Verifikasi dan Validasi Data P3KE", "Sensitif", "desa"),
        ("Rehabilitasi Sosial", "Bantuan Sosial Anak Balita Terlantar", "Sensitif", "anak"))),
    "DPMD": ("Dinas Pemberdayaan Masyarakat dan Desa", (
        ("Pemberdayaan Masyarakat Desa", "Fasilitasi Rembuk Stunting Desa", "Sensitif", "desa"),
        ("Pemberdayaan Masyarakat Desa", "Pembinaan Kader Pembangunan Manusia", "Sensitif", "kader"),
        ("Administrasi Pemerintahan Desa", "Monitoring Dana Desa untuk Stunting", "Sensitif", "desa"))),
    "DPUPR": ("Dinas Pekerjaan Umum dan Penataan Ruang", (
        ("Pengelolaan Air Minum", "Pembangunan SPAM Perdesaan", "Sensitif", "unit"),
        ("Pengelolaan Air Limbah", "Pembangunan Jamban Sehat Komunal", "Sensitif", "unit"),
        ("Perumahan", "Rehabilitasi Rumah Tidak Layak Huni", "Sensitif", "rumah"))),
    "BAPPEDA": ("Badan Perencanaan Pembangunan Daerah", (
        ("Perencanaan Pembangunan Daerah", "Koordinasi TPPS Provinsi", "Sensitif", "dokumen"),
        ("Perencanaan Pembangunan Daerah", "Penilaian Kinerja Aksi Konvergensi Kabupaten/Kota", "Sensitif",
         "dokumen"),
        ("Penelitian dan Pengembangan", "Kajian Kemiskinan Ekstrem dan Stunting", "Sensitif", "dokumen"))),
}


def _person(rng) -> str:
    return f"{names.ADULT_NAMES[rng.integers(len(names.ADULT_NAMES))]} " \
           f"{names.FAMILY_NAMES[rng.integers(len(names.FAMILY_NAMES))]}"


def _received(rng, period: str) -> dt.datetime:
    late = 20 + 30 * rng.random() if rng.random() < 0.15 else 2 + 12 * rng.random()
    return gio.received_after(gio.period_end(period), late)


def _grade(score: int) -> str:
    return "A" if score >= 85 else "B" if score >= 70 else "C" if score >= 55 else "D"


def write_aksi(out: Path, rng) -> dict:
    """One XLSX per regency with the 8 actions; one regency (random) sends nothing."""
    folder = out / "aksi_reports"
    folder.mkdir(parents=True, exist_ok=True)
    silent = int(rng.integers(len(names.REGENCIES)))
    n_files = n_rows = 0
    for r, (code, name, *_rest) in enumerate(names.REGENCIES):
        statuses = rng.choice(len(_STATUS), size=len(AKSI), p=_STATUS_P)
        scores = np.clip(np.round(rng.normal(74, 12, len(AKSI))), 0, 100).astype(int)
        done = statuses >= 2
        mean = scores[done].mean() if done.any() else 0
        category = "Berdaya" if mean >= 80 else "Berkembang" if mean >= 65 else "Tumbuh"
        officer = _person(rng)
        rows = []
        for a, ((aksi_name, docs, month), st) in enumerate(zip(AKSI, statuses, strict=True), start=1):
            n_docs = 0 if st == 0 else 1 if st == 1 else int(rng.integers(2, len(docs) + 1))
            day = dt.date(int(YEAR), month, int(rng.integers(1, 29)))
            rows.append([
                code, name, int(YEAR), a, aksi_name, _STATUS[st], n_docs, " | ".join(docs[:n_docs]),
                day if done[a - 1] else None, _grade(int(scores[a - 1])) if done[a - 1] else None,
                int(scores[a - 1]) if done[a - 1] else None, category, officer,
            ])
        if r == silent:
            continue
        path = folder / f"{code}_{YEAR}.xlsx"
        write_xlsx(path, AKSI_REPORTS.headers, rows, sheet="Aksi Konvergensi", created=_FIXED_CREATED)
        gio.set_received(path, _received(rng, YEAR))
        n_files += 1
        n_rows += len(rows)
    return {"files": n_files, "rows": n_rows}


def write_lokus(out: Path, geo: names.Geography, rng) -> dict:
    """One XLSX per regency listing its priority (lokus) villages, 10–15 % of them."""
    folder = out / "lokus_villages"
    folder.mkdir(parents=True, exist_ok=True)
    n_rows = 0
    for r, (code, name, *_rest) in enumerate(names.REGENCIES):
        members = np.flatnonzero(geo.village_regency == r)
        k = max(3, round(len(members) * rng.uniform(0.10, 0.15)))
        picked = np.sort(rng.choice(members, size=k, replace=False))
        decree = f"400.5/Kep.{int(rng.integers(100, 999))}-Huk/{YEAR}"
        rows = [[int(YEAR), code, name, str(geo.district_names[geo.village_district[v]]),
                 str(geo.village_names[v]), str(geo.village_codes[v]), decree] for v in picked]
        path = folder / f"{code}_{YEAR}.xlsx"
        write_xlsx(path, LOKUS_VILLAGES.headers, rows, sheet="Lokus", created=_FIXED_CREATED)
        gio.set_received(path, _received(rng, YEAR))
        n_rows += len(rows)
    return {"files": len(names.REGENCIES), "rows": n_rows}


def write_survey(out: Path, rng) -> dict:
    """One ``;`` CSV per regency with survey stunting, BPS extreme poverty and denominators, and one
    for the province with its own published figures (as Bappeda copies them from the SSGI and BPS
    releases; not derived from the regencies)."""
    folder = out / "survey_figures"
    for code, name, *_rest in names.REGENCIES:
        ssgi, ski, pop = _SURVEY[code]
        poverty = round(_EXTREME_POVERTY_2022[code] * rng.uniform(0.45, 0.8), 2)
        balita = int(round(pop * rng.uniform(0.085, 0.095)))
        _write_survey_row(folder, rng, code, name, ssgi, ski, poverty, pop, balita)
    ssgi, ski, poverty, pop, balita = _PROVINCE_SURVEY
    _write_survey_row(folder, rng, "36", "Provinsi Banten", ssgi, ski, poverty, pop, balita)
    return {"files": len(names.REGENCIES) + 1, "rows": len(names.REGENCIES) + 1}


def _write_survey_row(folder: Path, rng, code, name, ssgi, ski, poverty, pop, balita) -> None:
    row = [code, name, YEAR, gio.dec_comma(np.array([ssgi]), 1)[0],
           "" if ski is None else gio.dec_comma(np.array([ski]), 1)[0],
           gio.dec_comma(np.array([poverty]), 2)[0], str(pop), str(balita)]
    path = folder / f"{code}_{YEAR}.csv"
    gio.write_bytes(path, gio.csv_bytes(SURVEY_FIGURES.headers, [row], delimiter=";", encoding="utf-8-sig"))
    gio.set_received(path, _received(rng, YEAR))


def write_opd(out: Path, geo: names.Geography, rng) -> dict:
    """One JSON list per provincial OPD: activities with target regency and villages, budget."""
    folder = out / "opd_programmes"
    n_rows = 0
    for opd, (opd_name, activities) in OPDS.items():
        records = []
        for programme, activity, kind, unit in activities:
            for _ in range(int(rng.integers(1, 3))):
                r = int(rng.integers(len(names.REGENCIES)))
                members = np.flatnonzero(geo.village_regency == r)
                targets = np.sort(rng.choice(members, size=int(rng.integers(3, 11)), replace=False))
                budget = int(rng.integers(50, 2000)) * 1_000_000
                target = int(rng.integers(10, 500))
                records.append(dict(zip(OPD_PROGRAMMES.headers, [
                    opd, opd_name, int(YEAR), 3, programme, activity, kind, names.REGENCIES[r][0],
                    ",".join(str(c) for c in geo.village_codes[targets]), budget,
                    int(budget * rng.uniform(0.35, 0.85)) // 1000 * 1000, target, unit,
                    int(target * rng.uniform(0.3, 0.9)), _person(rng),
                ], strict=True)))
        path = folder / f"{opd}_{OPD_PERIOD}.json"
        gio.write_bytes(path, (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        gio.set_received(path, _received(rng, OPD_PERIOD))
        n_rows += len(records)
    return {"files": len(OPDS), "rows": n_rows}
