"""Submission layouts: the one contract between the files people send and our parsers.

Every stream lists its columns in export order as ``(canonical_name, header_as_exported)``.
Headers are matched through :data:`HEADER_ALIASES` after :func:`normalise_header`, never by
position, so a file with reordered columns, a BOM, stray spaces or a known variant spelling
(``Penerima BNBT`` for ``Penerima BPNT``, ``Kode Kemdagri`` for ``Kode Kemendagri``) still
parses. The demo generator writes these exact headers; the parsers read them.

Personal columns (:attr:`Layout.pii`) are replaced by a keyed HMAC at parse time and never
leave the parser in clear text.

A bad value in a column of :attr:`Layout.row_level` (who, where, when: the values every figure of
the row needs) quarantines the whole row; a bad value anywhere else is nulled alone and recorded,
and the row is kept (docs/quality.md lists the decision per rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STREAMS = (
    "child_measurements",
    "households",
    "village_scorecard",
    "aksi_reports",
    "lokus_villages",
    "survey_figures",
    "opd_programmes",
)

# Which kind of body submits a stream, and how its period is written.
SUBMITTER_LEVEL = {
    "child_measurements": "village",
    "households": "village",
    "village_scorecard": "village",
    "aksi_reports": "regency",
    "lokus_villages": "regency",
    "survey_figures": "regency",
    "opd_programmes": "opd",
}
# month: YYYY-MM, quarter: YYYY-Qn, year: YYYY
PERIOD_GRAIN = {
    "child_measurements": "month",
    "households": "year",
    "village_scorecard": "quarter",
    "aksi_reports": "year",
    "lokus_villages": "year",
    "survey_figures": "year",
    "opd_programmes": "quarter",
}


@dataclass(frozen=True)
class Layout:
    stream: str
    columns: tuple[tuple[str, str], ...]
    required: frozenset[str]
    pii: frozenset[str] = field(default_factory=frozenset)
    extra_aliases: dict[str, str] = field(default_factory=dict)
    # Columns whose bad value rejects the whole row; any other bad value is nulled, the row kept.
    row_level: frozenset[str] = field(default_factory=frozenset)

    @property
    def canonical(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(h for _, h in self.columns)


CHILD_MEASUREMENTS = Layout(
    stream="child_measurements",
    # e-PPGBM export, 34 columns, exact spelling including the `Pukesmas` typo (DOMAIN.md §4).
    columns=(
        ("row_no", "No"),
        ("nik", "NIK"),
        ("child_name", "Nama"),
        ("sex", "JK"),
        ("birth_date", "Tgl Lahir"),
        ("birth_weight_kg", "BB Lahir"),
        ("birth_length_cm", "TB Lahir"),
        ("parent_name", "Nama Ortu"),
        ("province_name", "Prov"),
        ("regency_name", "Kab/Kota"),
        ("district_name", "Kec"),
        ("puskesmas", "Pukesmas"),
        ("village_name", "Desa/Kel"),
        ("posyandu", "Posyandu"),
        ("rt", "RT"),
        ("rw", "RW"),
        ("address", "Alamat"),
        ("age_text", "Usia Saat Ukur"),
        ("measured_on", "Tanggal Pengukuran"),
        ("weight_kg", "Berat"),
        ("lenhei_cm", "Tinggi"),
        ("measure_position", "Cara Ukur"),
        ("muac_cm", "LiLA"),
        ("wfa_label", "BB/U"),
        ("waz_export", "ZS BB/U"),
        ("hfa_label", "TB/U"),
        ("haz_export", "ZS TB/U"),
        ("wfh_label", "BB/TB"),
        ("whz_export", "ZS BB/TB"),
        ("weight_gain_code", "Naik Berat Badan"),
        ("vit_a_doses", "Jml Vit A"),
        ("kpsp", "KPSP"),
        ("kia", "KIA"),
        ("detail", "Detail"),
    ),
    required=frozenset(
        {
            "nik", "child_name", "sex", "birth_date", "regency_name", "district_name",
            "village_name", "measured_on", "weight_kg", "lenhei_cm", "measure_position",
        }
    ),
    pii=frozenset({"nik", "child_name", "parent_name", "rt", "rw", "address"}),
    # Identity, sex, age and village: without any one of them no indicator can be computed.
    row_level=frozenset({"nik", "child_name", "sex", "birth_date", "measured_on", "regency_name", "district_name",
                         "village_name"}),
    extra_aliases={
        "puskesmas": "puskesmas",
        "kabupaten/kota": "regency_name",
        "kecamatan": "district_name",
        "desa/kelurahan": "village_name",
        "kelurahan": "village_name",
        "tanggal lahir": "birth_date",
        "jenis kelamin": "sex",
        "nama anak": "child_name",
        "nama orang tua": "parent_name",
        "nama orang tua (ibu/ayah)": "parent_name",
        "berat (kg)": "weight_kg",
        "tinggi (cm)": "lenhei_cm",
        "lila (cm)": "muac_cm",
        "tgl pengukuran": "measured_on",
        "provinsi": "province_name",
        "no hp orang tua": "phone",
        "nik orang tua": "parent_nik",
        "nomor kk": "family_card_no",
    },
)

_P3KE_FLAGS = (
    ("receives_bpnt", "Penerima BPNT"),
    ("receives_bpum", "Penerima BPUM"),
    ("receives_bst", "Penerima BST"),
    ("receives_pkh", "Penerima PKH"),
    ("receives_sembako", "Penerima SEMBAKO"),
)

HOUSEHOLDS = Layout(
    stream="households",
    # P3KE household (keluarga) register (DOMAIN.md §5).
    columns=(
        ("family_id", "ID Keluarga"),
        ("province_name", "Provinsi"),
        ("regency_name", "Kabupaten"),
        ("district_name", "Kecamatan"),
        ("village_name", "Desa"),
        ("village_code", "Kode Kemendagri"),
        ("welfare_decile", "Desil Kesejahteraan"),
        ("address", "Alamat"),
        ("head_name", "Kepala Keluarga"),
        ("nik", "NIK"),
        ("nik_matched", "Padan Dukcapil"),
        ("head_sex", "Jenis Kelamin"),
        ("head_birth_date", "Tanggal Lahir"),
        ("occupation", "Pekerjaan"),
        ("education", "Pendidikan"),
        ("home_ownership", "Kepemilikan Rumah"),
        ("has_savings", "Memiliki Simpanan"),
        ("roof_type", "Jenis Atap"),
        ("wall_type", "Jenis Dinding"),
        ("floor_type", "Jenis Lantai"),
        ("lighting_source", "Sumber Penerangan"),
        ("cooking_fuel", "Bahan Bakar Memasak"),
        ("drinking_water", "Sumber Air Minum"),
        ("toilet_facility", "Fasilitas BAB"),
        *_P3KE_FLAGS,
        ("stunting_risk", "Resiko Stunting"),
        ("targeting", "Pensasaran"),
        ("n_members", "Jumlah Anggota Keluarga"),
    ),
    required=frozenset({"family_id", "village_code", "welfare_decile"}),
    pii=frozenset({"family_id", "address", "head_name", "nik", "phone"}),
    row_level=frozenset({"family_id", "village_code"}),
    extra_aliases={
        "penerima bnbt": "receives_bpnt",
        "kode kemdagri": "village_code",
        "kode kemendagri desa": "village_code",
        "desil": "welfare_decile",
        "jumlah anggota": "n_members",
        "jml anggota keluarga": "n_members",
        "risiko stunting": "stunting_risk",
        "no hp": "phone",
    },
)

VILLAGE_SCORECARD = Layout(
    stream="village_scorecard",
    # Village convergence scorecard (Kemendes/KPM format as used in Banten).
    columns=(
        ("village_code", "Kode Desa"),
        ("village_name", "Nama Desa"),
        ("year", "Tahun"),
        ("quarter", "Triwulan"),
        ("rembuk_held", "Rembuk Stunting Desa"),
        ("kpm_active", "KPM Aktif"),
        ("n_posyandu", "Jumlah Posyandu"),
        ("n_posyandu_active", "Posyandu Aktif"),
        ("dana_desa_stunting_rp", "Dana Desa untuk Stunting (Rp)"),
        ("n_target_households", "Sasaran Rumah Tangga 1000 HPK"),
        ("n_reached_kia", "Terlayani Paket KIA"),
        ("n_reached_nutrition", "Terlayani Paket Konseling Gizi"),
        ("n_reached_wash", "Terlayani Paket Air Bersih dan Sanitasi"),
        ("n_reached_social", "Terlayani Paket Perlindungan Sosial"),
        ("n_reached_paud", "Terlayani Paket PAUD"),
        ("kpm_name", "Nama KPM"),
        ("kpm_phone", "No HP KPM"),
    ),
    required=frozenset({"village_code", "year", "quarter"}),
    pii=frozenset({"kpm_name", "kpm_phone"}),
    row_level=frozenset({"village_code", "year", "quarter"}),
    extra_aliases={"kode kemendagri": "village_code", "kode kemdagri": "village_code"},
)

AKSI_REPORTS = Layout(
    stream="aksi_reports",
    # Eight convergence actions per regency and year, as uploaded to the Bangda web app.
    columns=(
        ("regency_code", "Kode Kab/Kota"),
        ("regency_name", "Kabupaten/Kota"),
        ("year", "Tahun"),
        ("action_no", "Aksi"),
        ("action_name", "Nama Aksi"),
        ("status", "Status"),
        ("n_evidence", "Jumlah Data Dukung"),
        ("evidence_docs", "Data Dukung"),
        ("completed_on", "Tanggal Selesai"),
        ("grade", "Nilai"),
        ("score", "Skor"),
        ("category", "Kategori Kinerja"),
        ("officer_name", "Nama Petugas"),
    ),
    required=frozenset({"regency_code", "year", "action_no", "status"}),
    pii=frozenset({"officer_name"}),
    # The status is the fact itself: nulled, the action would read as not reported.
    row_level=frozenset({"regency_code", "year", "action_no", "status"}),
    extra_aliases={"aksi ke": "action_no", "kode kabupaten/kota": "regency_code"},
)

LOKUS_VILLAGES = Layout(
    stream="lokus_villages",
    columns=(
        ("year", "Tahun"),
        ("regency_code", "Kode Kab/Kota"),
        ("regency_name", "Kabupaten/Kota"),
        ("district_name", "Kecamatan"),
        ("village_name", "Desa/Kelurahan"),
        ("village_code", "Kode Kemendagri"),
        ("decree_no", "Nomor SK"),
    ),
    required=frozenset({"year", "regency_code", "village_code"}),
    row_level=frozenset({"year", "regency_code", "village_code"}),
    extra_aliases={"kode kemdagri": "village_code", "kode desa": "village_code"},
)

SURVEY_FIGURES = Layout(
    stream="survey_figures",
    columns=(
        ("regency_code", "Kode Kab/Kota"),
        ("regency_name", "Kabupaten/Kota"),
        ("year", "Tahun"),
        ("stunting_ssgi_pct", "Prevalensi Stunting SSGI (%)"),
        ("stunting_ski_pct", "Prevalensi Stunting SKI (%)"),
        ("extreme_poverty_bps_pct", "Kemiskinan Ekstrem BPS (%)"),
        ("population", "Jumlah Penduduk"),
        ("balita_estimate", "Estimasi Jumlah Balita"),
    ),
    required=frozenset({"regency_code", "year"}),
    row_level=frozenset({"regency_code", "year"}),
)

OPD_PROGRAMMES = Layout(
    stream="opd_programmes",
    columns=(
        ("opd_code", "Kode OPD"),
        ("opd_name", "Nama OPD"),
        ("year", "Tahun"),
        ("quarter", "Triwulan"),
        ("programme", "Program"),
        ("activity", "Kegiatan"),
        ("intervention_type", "Jenis Intervensi"),
        ("regency_code", "Kode Kab/Kota Sasaran"),
        ("village_codes", "Desa Sasaran"),
        ("budget_rp", "Pagu (Rp)"),
        ("realisation_rp", "Realisasi (Rp)"),
        ("output_target", "Target Output"),
        ("output_unit", "Satuan"),
        ("output_achieved", "Capaian Output"),
        ("contact_name", "Penanggung Jawab"),
    ),
    required=frozenset({"opd_code", "year", "quarter", "activity", "budget_rp"}),
    pii=frozenset({"contact_name"}),
    row_level=frozenset({"opd_code", "year", "quarter", "activity", "regency_code"}),
    extra_aliases={"pagu": "budget_rp", "realisasi": "realisation_rp", "tw": "quarter"},
)

LAYOUTS: dict[str, Layout] = {
    lay.stream: lay
    for lay in (
        CHILD_MEASUREMENTS, HOUSEHOLDS, VILLAGE_SCORECARD, AKSI_REPORTS,
        LOKUS_VILLAGES, SURVEY_FIGURES, OPD_PROGRAMMES,
    )
}

_SPACES = re.compile(r"\s+")


def normalise_header(header: object) -> str:
    """Header text as matched against the alias table: BOM and outer spaces gone, lower case,
    inner runs of white space collapsed."""
    text = str(header).replace("\ufeff", "").replace("\u00a0", " ").strip().lower()
    return _SPACES.sub(" ", text)


def header_aliases(layout: Layout) -> dict[str, str]:
    aliases = {normalise_header(h): c for c, h in layout.columns}
    aliases.update({normalise_header(c): c for c in layout.canonical})
    aliases.update({normalise_header(k): v for k, v in layout.extra_aliases.items()})
    return aliases
