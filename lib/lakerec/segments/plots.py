"""PNG pictures of a segmentation run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def _pyplot():  # imported on use: matplotlib is slow to import and needs the Agg backend
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def silhouette_by_k(ks: Sequence[int], silhouettes: Sequence[float], chosen_k: int,
                    path: Path) -> Path:
    """Silhouette against the number of segments, the chosen k marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(list(ks), list(silhouettes), marker="o")
    ax.set_xticks(list(ks))
    ax.axvline(chosen_k, color="tab:red", linestyle="--", label=f"chosen k = {chosen_k}")
    ax.set(xlabel="number of segments k", ylabel="silhouette", title="Silhouette by k")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def segment_sizes(labels: Sequence[str], sizes: Sequence[int], path: Path) -> Path:
    """Customers per segment, as horizontal bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(labels) + 1.5))
    ax.barh(list(labels), list(sizes), color="tab:blue")
    ax.set(xlabel="customers", title="Segment sizes")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def recency_vs_monetary(points: pd.DataFrame, *, recency: str, monetary: str, label: str,
                        path: Path) -> Path:
    """Each sampled customer as a point: recency against monetary (log), coloured by segment."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for index, (name, group) in enumerate(sorted(points.groupby(label), key=lambda g: g[0])):
        ax.scatter(group[recency], group[monetary].clip(lower=1.0), s=6, alpha=0.5,
                   color=f"C{index % 10}", label=f"{name} ({len(group)})")
    ax.set_yscale("log")
    ax.set(xlabel="days since last purchase", ylabel="net revenue (log scale, floor 1)",
           title="Customers by recency and monetary value")
    ax.legend(markerscale=3, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
