"""Just enough SVG to draw the quality report's figures: a canvas, panels mapping data to pixels,
ticks, bars, steps, lines and labels. Text is escaped; numbers are written with two decimals."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

GRID_COLOR = "#d5d8dc"
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif"


def number(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals ('-0' written as '0')."""
    out = f"{value:.{digits}f}"
    return out[1:] if out.startswith("-") and float(out) == 0 else out


def nice_ticks(lo: float, hi: float, about: int) -> list[float]:
    """About ``about`` evenly spaced round ticks (steps of 1, 2 or 5 times a power of ten) covering
    ``[lo, hi]``; the last one is at or above ``hi``."""
    lo, hi = float(lo), float(hi)  # DuckDB hands DECIMAL columns over as Decimal
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, about)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def _f(v: float) -> str:
    return f"{v:.2f}"


class Canvas:
    """One ``<svg>`` figure, ``width`` x ``height`` pixels (it scales down with the page), labelled
    for screen readers with ``label``."""

    def __init__(self, width: float, height: float, label: str) -> None:
        self.width, self.height, self.label = width, height, label
        self.parts: list[str] = []

    def add(self, element: str) -> None:
        self.parts.append(element)

    def text(self, x: float, y: float, value: str, size: float = 11, anchor: str = "start",
             rotate: bool = False, bold: bool = False, color: str = "#222") -> None:
        turn = f' transform="rotate(-90 {_f(x)} {_f(y)})"' if rotate else ""
        weight = ' font-weight="600"' if bold else ""
        self.add(f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}" fill="{color}"'
                 f"{weight}{turn}>{html.escape(value)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, color: str, width: float = 1.4,
             dashed: bool = False) -> None:
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        self.add(f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{color}" '
                 f'stroke-width="{width}"{dash}/>')

    def title(self) -> None:
        """The figure's label, as its title across the top."""
        self.text(self.width / 2, 20, self.label, size=13, anchor="middle", bold=True)

    def svg(self) -> str:
        # No xmlns: the figure is inline in an HTML5 page, whose parser puts it in the SVG namespace
        # (and the report then names no URL at all).
        return (f'<svg viewBox="0 0 {_f(self.width)} {_f(self.height)}" '
                f'width="{_f(self.width)}" height="{_f(self.height)}" role="img" '
                f'aria-label="{html.escape(self.label)}" style="{FONT}">'
                f'<rect width="100%" height="100%" fill="#fff"/>{"".join(self.parts)}</svg>')


class Panel:
    """A plotting area of ``canvas`` at (``x``, ``y``), ``w`` x ``h`` pixels, showing ``xlim`` by
    ``ylim`` in data units (a reversed ``ylim`` puts its first value at the bottom)."""

    def __init__(self, canvas: Canvas, x: float, y: float, w: float, h: float,
                 xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
        self.c, self.left, self.top, self.w, self.h = canvas, x, y, w, h
        self.xlim, self.ylim = xlim, ylim

    def x(self, v: float) -> float:
        """Pixel column of data value ``v``, kept inside the panel."""
        lo, hi = self.xlim
        return self.left + min(1.0, max(0.0, (float(v) - lo) / (hi - lo))) * self.w

    def y(self, v: float) -> float:
        """Pixel row of data value ``v``, kept inside the panel."""
        lo, hi = self.ylim
        return self.top + self.h - min(1.0, max(0.0, (float(v) - lo) / (hi - lo))) * self.h

    def grid(self, x_ticks: Sequence[float], y_ticks: Sequence[float], x_labels: bool = True, y_labels: bool = True,
             x_format: Callable[[float], str] | None = None, y_format: Callable[[float], str] | None = None,
             vertical: bool = True) -> None:
        """The panel's frame, light grid lines at the ticks and, when asked, their labels."""
        bottom = self.top + self.h
        for t in x_ticks:
            if vertical:
                self.c.line(self.x(t), self.top, self.x(t), bottom, GRID_COLOR, 0.8)
            if x_labels:
                self.c.text(self.x(t), bottom + 13, (x_format or _tick)(t), size=10, anchor="middle")
        for t in y_ticks:
            self.c.line(self.left, self.y(t), self.left + self.w, self.y(t), GRID_COLOR, 0.8)
            if y_labels:
                self.c.text(self.left - 5, self.y(t) + 3.5, (y_format or _tick)(t), size=10, anchor="end")
        self.c.add(f'<rect x="{_f(self.left)}" y="{_f(self.top)}" width="{_f(self.w)}" height="{_f(self.h)}" '
                   'fill="none" stroke="#7f8c8d" stroke-width="0.8"/>')

    def stairs(self, values: Sequence[float], edges: Sequence[float], color: str) -> None:
        """A filled step histogram: ``values[i]`` over ``[edges[i], edges[i + 1])``."""
        base = self.y(0.0)
        points = [(self.x(edges[0]), base)]
        for i, v in enumerate(values):
            points += [(self.x(edges[i]), self.y(v)), (self.x(edges[i + 1]), self.y(v))]
        points.append((self.x(edges[-1]), base))
        self.c.add(f'<polygon points="{" ".join(f"{_f(a)},{_f(b)}" for a, b in points)}" fill="{color}" '
                   'fill-opacity="0.55"/>')

    def line(self, points: Sequence[tuple[float, float]], color: str, dashed: bool = False) -> None:
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        self.c.add(f'<polyline points="{" ".join(f"{_f(self.x(a))},{_f(self.y(b))}" for a, b in points)}" '
                   f'fill="none" stroke="{color}" stroke-width="1.4"{dash}/>')

    def vline(self, v: float, color: str, dashed: bool = False) -> None:
        self.c.line(self.x(v), self.top, self.x(v), self.top + self.h, color, 1.2, dashed)

    def hline(self, v: float, color: str, dashed: bool = False) -> None:
        self.c.line(self.left, self.y(v), self.left + self.w, self.y(v), color, 1.4, dashed)

    def bar(self, center: float, width: float, value: float, color: str) -> None:
        """A vertical bar from 0 to ``value`` centred on ``center``, ``width`` data units wide."""
        x0, x1 = self.x(center - width / 2), self.x(center + width / 2)
        y0, y1 = self.y(value), self.y(0.0)
        self.c.add(f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(x1 - x0)}" height="{_f(y1 - y0)}" fill="{color}"/>')

    def hbar(self, row: float, thickness: float, value: float | None, color: str) -> None:
        """A horizontal bar from 0 to ``value`` centred on ``row``, ``thickness`` rows thick."""
        if value is None:
            return
        y0, y1 = sorted((self.y(row - thickness / 2), self.y(row + thickness / 2)))
        x0, x1 = self.x(0.0), self.x(value)
        self.c.add(f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(x1 - x0)}" height="{_f(y1 - y0)}" fill="{color}" '
                   'fill-opacity="0.8"/>')

    def whisker(self, row: float, lo: float | None, hi: float | None) -> None:
        """An interval from ``lo`` to ``hi`` on ``row``, with caps."""
        if lo is None or hi is None:
            return
        y = self.y(row)
        for x1, y1, x2, y2 in ((self.x(lo), y, self.x(hi), y), (self.x(lo), y - 4, self.x(lo), y + 4),
                               (self.x(hi), y - 4, self.x(hi), y + 4)):
            self.c.line(x1, y1, x2, y2, "#000", 1)

    def label(self, x: float, y: float, value: str) -> None:
        """A small label just above data point (``x``, ``y``)."""
        self.c.text(self.x(x), self.y(y) - 3, value, size=10, anchor="middle")

    def note(self, lines: Sequence[str]) -> None:
        """Lines of text in the panel's top-left corner."""
        for i, value in enumerate(lines):
            self.c.text(self.left + 5, self.top + 13 + 12 * i, value, size=10)

    def legend(self, items: Sequence[tuple[str, str, bool]], corner: str = "top-right") -> None:
        """A boxed legend of (label, colour, dashed) line samples in the panel's ``corner``."""
        width = 34 + 6.2 * max(len(label) for label, _, _ in items)
        height = 8 + 16 * len(items)
        x = self.left + self.w - width - 6
        y = self.top + 6 if corner == "top-right" else self.top + self.h - height - 6
        self.c.add(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(width)}" height="{height}" fill="#fff" '
                   f'fill-opacity="0.9" stroke="{GRID_COLOR}"/>')
        for i, (label, color, dashed) in enumerate(items):
            row = y + 12 + 16 * i
            self.c.line(x + 6, row, x + 26, row, color, 1.4, dashed)
            self.c.text(x + 30, row + 3.5, label, size=10)


def _tick(v: float) -> str:
    return number(v, 0) if float(v).is_integer() else f"{v:g}"
