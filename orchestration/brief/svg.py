"""Small inline SVG charts for the brief: no JavaScript, no fonts or files to fetch.

Each function returns an ``<svg>`` element as text, sized in CSS pixels, with a ``<title>`` for
screen readers and every label escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
BLUE = "#2f6fb3"
GREEN = "#2f9e6e"
RED = "#c8553d"
AMBER = "#d69e2e"
FONT = "font-family='system-ui, -apple-system, Segoe UI, sans-serif' font-size='12'"

Format = Callable[[float], str]


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' {FONT}>",
        f"<title>{escape(title)}</title>",
    ]


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK, weight: str = "normal"
) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' fill='{fill}' "
        f"font-weight='{weight}'>{escape(text)}</text>"
    )


def hbars(
    rows: Sequence[tuple[str, float]],
    fmt: Format,
    *,
    title: str,
    targets: Sequence[float | None] | None = None,
    reference: float | None = None,
    reference_label: str = "",
    width: int = 720,
    color: str = BLUE,
) -> str:
    """Horizontal bars, one per row, optional per-row target ticks and a vertical reference line
    (e.g. 100 % attainment)."""
    # the label column fits the longest label (12 px sans: at most ~7.2 px a character)
    longest = max((len(label[:34]) for label, _ in rows), default=0)
    label_w = max(220, round(longest * 7.2) + 16)
    value_w, bar_h, gap, top = 90, 18, 8, 8
    height = top + len(rows) * (bar_h + gap) + 22
    plot_w = width - label_w - value_w
    values = [v for _, v in rows] + [t for t in (targets or []) if t is not None]
    if reference is not None:
        values.append(reference)
    high = max([v for v in values if v is not None] + [0.0]) or 1.0
    low = min([v for v in values if v is not None] + [0.0])
    span = high - low or 1.0

    def x(value: float) -> float:
        return label_w + (value - low) / span * plot_w

    out = _open(width, height, title)
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        x0, x1 = sorted((x(0), x(value)))
        fill = color if value >= 0 else RED
        out.append(_text(label_w - 8, y + bar_h - 5, label[:34], anchor="end"))
        out.append(
            f"<rect x='{x0:.1f}' y='{y}' width='{max(x1 - x0, 1):.1f}' height='{bar_h}' fill='{fill}' rx='2'/>"
        )
        out.append(_text(width - value_w + 6, y + bar_h - 5, fmt(value), fill=MUTED))
        target = targets[i] if targets and i < len(targets) else None
        if target is not None:
            tx = x(target)
            out.append(
                f"<line x1='{tx:.1f}' x2='{tx:.1f}' y1='{y - 2}' y2='{y + bar_h + 2}' stroke='{INK}' stroke-width='2'/>"
            )
    if reference is not None:
        rx = x(reference)
        bottom = top + len(rows) * (bar_h + gap)
        out.append(
            f"<line x1='{rx:.1f}' x2='{rx:.1f}' y1='{top - 4}' y2='{bottom}' stroke='{AMBER}' stroke-dasharray='4 3'/>"
        )
        out.append(_text(rx, bottom + 14, reference_label, anchor="middle", fill=MUTED))
    out.append("</svg>")
    return "".join(out)


def waterfall(
    starting: float,
    steps: Sequence[tuple[str, float]],
    ending: float,
    fmt: Format,
    *,
    title: str,
    width: int = 760,
) -> str:
    """A pipeline waterfall: starting bar, signed movements, ending bar."""
    bars: list[tuple[str, float, float, str]] = [("Start", 0.0, starting, BLUE)]
    level = starting
    for label, delta in steps:
        bars.append((label, level, level + delta, GREEN if delta >= 0 else RED))
        level += delta
    bars.append(("End", 0.0, ending, BLUE))
    top, bottom, left = 14, 90, 70
    height = 300
    plot_h = height - top - bottom
    values = [v for _, a, b, _ in bars for v in (a, b)] + [0.0]
    high, low = max(values), min(values)
    span = high - low or 1.0

    def y(value: float) -> float:
        return top + (high - value) / span * plot_h

    slot = (width - left - 10) / len(bars)
    out = _open(width, height, title)
    for value in (low, (low + high) / 2, high):
        out.append(
            f"<line x1='{left}' x2='{width - 10}' y1='{y(value):.1f}' y2='{y(value):.1f}' stroke='{GRID}'/>"
        )
        out.append(_text(left - 6, y(value) + 4, fmt(value), anchor="end", fill=MUTED))
    for i, (label, a, b, color) in enumerate(bars):
        x0 = left + i * slot + slot * 0.15
        y0, y1 = sorted((y(a), y(b)))
        out.append(
            f"<rect x='{x0:.1f}' y='{y0:.1f}' width='{slot * 0.7:.1f}' height='{max(y1 - y0, 1):.1f}' fill='{color}' rx='2'/>"
        )
        cx = x0 + slot * 0.35
        out.append(
            f"<text x='{cx:.1f}' y='{height - bottom + 14}' text-anchor='end' fill='{INK}' "
            f"transform='rotate(-35 {cx:.1f} {height - bottom + 14})'>{escape(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def funnel(stages: Sequence[tuple[str, int]], *, title: str, width: int = 720) -> str:
    """Centered bars narrowing with the count; labels and share of the first stage."""
    bar_h, gap, top = 26, 6, 6
    height = top + len(stages) * (bar_h + gap)
    first = (
        max((count for _, count in stages[:1]), default=0)
        or max((c for _, c in stages), default=0)
        or 1
    )
    biggest = max((c for _, c in stages), default=0) or 1
    center = 220 + (width - 220) / 2
    plot_w = width - 240
    out = _open(width, height, title)
    for i, (stage, count) in enumerate(stages):
        y = top + i * (bar_h + gap)
        w = max(count / biggest * plot_w, 2)
        out.append(_text(200, y + bar_h - 8, stage.replace("_", " "), anchor="end"))
        out.append(
            f"<rect x='{center - w / 2:.1f}' y='{y}' width='{w:.1f}' height='{bar_h}' fill='{BLUE}' rx='3'/>"
        )
        share = f"{count:,}  ({count / first:.0%})" if first else f"{count:,}"
        out.append(
            _text(center, y + bar_h - 8, share, anchor="middle", fill="#ffffff", weight="bold")
        )
    out.append("</svg>")
    return "".join(out)


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    fmt: Format,
    *,
    title: str,
    width: int = 760,
) -> str:
    """Vertical bars per category, one per series, with a legend."""
    top, bottom, left, height = 24, 110, 110, 330
    plot_h = height - top - bottom
    values = [v for _, vs, _ in series for v in vs] + [0.0]
    high = max(values) or 1.0
    slot = (width - left - 10) / max(len(categories), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    out = _open(width, height, title)
    for frac in (0.0, 0.5, 1.0):
        yy = top + plot_h * (1 - frac)
        out.append(
            f"<line x1='{left}' x2='{width - 10}' y1='{yy:.1f}' y2='{yy:.1f}' stroke='{GRID}'/>"
        )
        out.append(_text(left - 6, yy + 4, fmt(high * frac), anchor="end", fill=MUTED))
    for i, category in enumerate(categories):
        for j, (_name, vs, color) in enumerate(series):
            value = vs[i] if i < len(vs) else 0.0
            h = max(value, 0) / high * plot_h
            x0 = left + i * slot + slot * 0.1 + j * bar_w
            out.append(
                f"<rect x='{x0:.1f}' y='{top + plot_h - h:.1f}' width='{bar_w:.1f}' height='{h:.1f}' fill='{color}'/>"
            )
        cx = left + i * slot + slot / 2
        out.append(
            f"<text x='{cx:.1f}' y='{top + plot_h + 14}' text-anchor='end' fill='{INK}' "
            f"transform='rotate(-30 {cx:.1f} {top + plot_h + 14})'>{escape(category[:22])}</text>"
        )
    x = left
    for name, _vs, color in series:
        out.append(f"<rect x='{x}' y='4' width='10' height='10' fill='{color}'/>")
        out.append(_text(x + 14, 13, name))
        x += 16 + 8 * len(name) + 12
    out.append("</svg>")
    return "".join(out)
