"""HTML building blocks for the quality report: escaping, redaction, tables, badges and the page shell.

Everything that reaches the page from the warehouse goes through :func:`text`, which escapes HTML and
masks long digit runs: a NIK (16 digits) or phone number pasted into an error message must not be
published in clear.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

# NIK = 16 digits, KK = 16, phone numbers 10-13; Kemendagri codes and dates are dotted/dashed so survive.
_LONG_DIGITS = re.compile(r"\d{8,}")
MAX_TEXT = 240

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1c2833;background:#f8f9f9;
line-height:1.45;font-size:15px}
main{max-width:980px;margin:auto;padding:12px}
h1{font-size:1.4em;margin:.4em 0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:2px solid #d5d8dc}
h3{font-size:1em;margin-bottom:.3em}
.meta,.note{color:#566573;font-size:.9em}
nav a{margin-right:.8em;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:8px}
.card{background:#fff;border:1px solid #d5d8dc;border-radius:6px;padding:8px 12px;min-width:130px;flex:1}
.num{display:block;font-size:1.5em;font-weight:600}.lbl{font-size:.85em;color:#566573}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;background:#fff;margin:.4em 0;font-size:.9em}
th,td{border:1px solid #d5d8dc;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eaeded}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-weight:600;font-size:.85em;color:#fff}
.ok{background:#1e8449}.bad{background:#c0392b}.error{background:#c0392b}.warn{background:#d68910}
.muted{background:#7f8c8d}
tr.failed td{background:#fdedec}
.alert{background:#fef5e7;border:2px solid #d68910;border-radius:6px;padding:4px 12px;margin:.6em 0}
figure.plot{margin:.6em 0}figure.plot svg{max-width:100%;height:auto;border:1px solid #d5d8dc;background:#fff}
"""


def text(value: object) -> str:
    """Escape a value for HTML after masking long digit runs and truncating long free text."""
    if value is None:
        return ""
    s = redact(str(value))
    if len(s) > MAX_TEXT:
        s = s[: MAX_TEXT - 1] + "…"
    return html.escape(s)


def redact(value: str) -> str:
    """Mask digit runs of 8 or more (NIK, KK, phone numbers) in free text."""
    return _LONG_DIGITS.sub("[angka disamarkan]", value)


def number(value: object, digits: int = 0) -> str:
    """Right-aligned numbers: thousands separators for counts, fixed decimals for measures."""
    if value is None:
        return "–"
    if isinstance(value, float) or digits:
        return f"{float(value):,.{digits}f}"
    return f"{int(value):,}"


def badge(label: str, kind: str) -> str:
    """A coloured pill: kind is one of ok, bad, error, warn, muted."""
    return f'<span class="badge {kind}">{html.escape(label)}</span>'


class Cell(str):
    """Already-rendered HTML that :func:`table` must not escape again."""

    numeric = False


class Num(Cell):
    numeric = True


def num(value: object, digits: int = 0) -> Num:
    """A right-aligned, formatted number cell."""
    return Num(number(value, digits))


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], row_classes: Sequence[str] | None = None
) -> str:
    """A scrollable HTML table; plain values are escaped and redacted, :class:`Cell` values are trusted."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for value in row:
            if isinstance(value, Cell):
                cells.append(f'<td class="n">{value}</td>' if value.numeric else f"<td>{value}</td>")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(f'<td class="n">{number(value, 2 if isinstance(value, float) else 0)}</td>')
            else:
                cells.append(f"<td>{text(value)}</td>")
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    if not body:
        return '<p class="note">None (Tidak ada).</p>'
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def figure(svg: str, alt: str) -> str:
    """An inline SVG figure (:mod:`pipelines.reports.plots`), so the report stays one file; ``alt``
    is its caption for screen readers."""
    return f'<figure class="plot" aria-label="{html.escape(alt)}">{svg}</figure>'


def missing_table(*names: str) -> str:
    """The note a section shows when the table it reads is not in the warehouse."""
    return (
        f'<p class="note">Not available: table {html.escape(", ".join(names))} is not in the warehouse.</p>'
    )


def section(anchor: str, title: str, body: str) -> str:
    """A titled section with an anchor for the navigation bar."""
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def page(title: str, meta: str, nav: Sequence[tuple[str, str]], sections: Sequence[str]) -> str:
    """The whole self-contained document: inline CSS, no scripts, no external resources."""
    links = " ".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in nav)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body><main>"
        f'<h1>{html.escape(title)}</h1><p class="meta">{meta}</p><nav>{links}</nav>\n'
        + "\n".join(sections)
        + "\n</main></body></html>\n"
    )
