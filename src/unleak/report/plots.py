"""Figures as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height), dpi=100)


def png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return buf.getvalue()


def prototype_grid(title: str, grids: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """Rows of prototypes, one row per model, one column per class (arrays K x C x H x W)."""
    rows = max(1, len(grids))
    k = max((g.shape[0] for _, g in grids), default=1)
    fig = _figure(0.9 * k + 1.2, 0.95 * rows + 0.5)
    fig.suptitle(title, fontsize=10)
    for r, (name, protos) in enumerate(grids):
        for c in range(protos.shape[0]):
            ax = fig.add_subplot(rows, k, r * k + c + 1)
            img = protos[c]
            img = img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))
            ax.imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(str(c), fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
    return png(fig)


def line_plot(
    title: str,
    xlabel: str,
    ylabel: str,
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    hline: float | None = None,
) -> bytes:
    """Lines with markers (e.g. ASR against queries); ``hline`` draws a reference (chance)."""
    fig = _figure(5.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle="--", label="chance")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return png(fig)
