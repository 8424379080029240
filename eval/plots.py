"""Stored runs side by side as one PNG: quality metrics as grouped bars, latency beside them."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")


def plot_results(results: Sequence, out: Path, metrics: Sequence[str] = DEFAULT_METRICS, title: str | None = None) -> Path:
    """``results``: objects with ``label``, ``metrics``, ``latency_p50_ms`` and ``latency_p95_ms``."""
    metrics = [m for m in metrics if any(m in r.metrics for r in results)]
    if not results or not metrics:
        raise ValueError("nothing to plot: no run has any of the metrics asked for")
    fig, (ax_q, ax_t) = plt.subplots(1, 2, figsize=(4 + 1.6 * len(metrics) + 0.4 * len(results), 4.8),
                                     gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(results)
    x = np.arange(len(metrics))
    for i, r in enumerate(results):
        values = [r.metrics.get(m, 0.0) for m in metrics]
        bars = ax_q.bar(x + i * width - 0.4 + width / 2, values, width, label=r.label)
        ax_q.bar_label(bars, fmt="%.3f", fontsize=6, rotation=90, padding=2)
    ax_q.set_xticks(x, metrics)
    ax_q.set_ylim(0, 1.08)
    ax_q.set_ylabel("score")
    ax_q.legend(fontsize=7, loc="lower right")
    ax_q.set_title(title or "retrieval quality")
    labels = [r.label for r in results]
    y = np.arange(len(results))
    ax_t.barh(y - 0.2, [r.latency_p50_ms for r in results], 0.4, label="p50")
    ax_t.barh(y + 0.2, [r.latency_p95_ms for r in results], 0.4, label="p95")
    ax_t.set_yticks(y, labels, fontsize=7)
    ax_t.invert_yaxis()
    ax_t.set_xlabel("latency per search (ms)")
    ax_t.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
