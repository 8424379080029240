"""Line charts as SVG strings, drawn on the server: recall@k curves per mode, and
distributions (per-query scores, latency) as the share of queries in each bin.

Plain SVG (no matplotlib figure, no script, no ``style`` attribute) so a page can
inline it under a strict Content-Security-Policy and a test can read its numbers.
Every value shown comes from the caller; text is escaped here.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from html import escape
from typing import Mapping, Sequence

COLOURS = ("#2f5bd3", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#4b5563")
WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 16, 40


def line_chart(series: Mapping[str, Mapping[float, float]], title: str, x_label: str = "k",
               y_label: str = "recall") -> str:
    """One polyline per series over the union of x values (placed evenly, labelled), y from 0 to 1."""
    xs = sorted({x for points in series.values() for x in points})
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(i: int) -> float:
        return LEFT + (plot_w * i / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return TOP + plot_h * (1 - max(0.0, min(1.0, v)))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="{escape(title)}" class="chart">',
             f"<title>{escape(title)}</title>"]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = py(tick)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#5b6470">'
                     f"{tick:g}</text>")
    for i, x in enumerate(xs):
        parts.append(f'<text x="{px(i):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11" '
                     f'fill="#5b6470">{x}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="12" '
                 f'fill="#38404a">{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" font-size="12" fill="#38404a" '
                 f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>')
    for n, (name, points) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        coords = [(px(i), py(points[x]), x, points[x]) for i, x in enumerate(xs) if x in points]
        parts.append(f'<g class="series" data-series="{escape(name)}">')
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _, _ in coords)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for cx, cy, x, v in coords:
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}">'
                         f"<title>{escape(name)} {escape(y_label)}@{x} = {v:.4f}</title></circle>")
        ly = TOP + 14 + 18 * n
        parts.append(f'<line x1="{WIDTH - RIGHT + 12}" y1="{ly - 4}" x2="{WIDTH - RIGHT + 30}" y2="{ly - 4}" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 36}" y="{ly}" font-size="12" fill="#1f2328">{escape(name)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def recall_curves(metrics_by_mode: Mapping[str, Mapping[str, float]], prefix: str = "recall@") -> dict[str, dict[int, float]]:
    """``{"dense": {"recall@10": 0.8, …}}`` → ``{"dense": {10: 0.8, …}}`` (only ``prefix`` metrics)."""
    return {
        mode: {int(name[len(prefix):]): float(v) for name, v in metrics.items()
               if name.startswith(prefix) and name[len(prefix):].isdigit()}
        for mode, metrics in metrics_by_mode.items()
    }


def distribution(values: Sequence[float], edges: Sequence[float]) -> dict[float, float]:
    """The share of ``values`` in each bin ``[edges[i], edges[i+1])`` (the last bin takes what is above),
    keyed by the bin's lower edge. Shares, not counts, so modes and runs of any size share one y axis."""
    if not values:
        return {}
    counts = [0] * len(edges)
    for v in values:
        i = bisect_right(edges, v) - 1
        counts[max(0, min(i, len(edges) - 1))] += 1
    return {edge: round(c / len(values), 4) for edge, c in zip(edges, counts)}


def latency_edges(values: Sequence[float], bins: int = 10) -> list[float]:
    """``bins`` equal bins from 0 to a round number at or above the 99th percentile (a slow
    outlier lands in the last bin instead of squashing every other one)."""
    if not values:
        return []
    ordered = sorted(values)
    top = ordered[min(len(ordered) - 1, int(0.99 * (len(ordered) - 1)))]
    step = max(1, math.ceil(top / bins))
    return [step * i for i in range(bins)]
