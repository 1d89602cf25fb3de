"""PNG pictures of a training run's evidence (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lakerec.recs.promotion import Evidence


def plot_metrics_vs_k(evidence: Sequence[Evidence], ks: Sequence[int], path: Path) -> Path:
    """A PNG of precision, recall, NDCG and MAP against k, one line per recommender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("precision", "recall", "ndcg", "map")
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5))
    for ax, metric in zip(axes, names, strict=True):
        for ev in evidence:
            ax.plot(list(ks), [ev.metrics.get(f"{metric}@{k}", 0.0) for k in ks],
                    marker="o", label=ev.name)
        ax.set_title(f"{metric}@k")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
