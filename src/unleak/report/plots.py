"""Figures as PNG bytes (matplotlib and Pillow, no display needed)."""

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


def prototype_grid(title: str, grids: Sequence[tuple[str, np.ndarray]], cell: int = 48) -> bytes:
    """Rows of prototypes, one row per model, one column per class (arrays K x C x H x W), as a
    PNG drawn with Pillow: pixels scaled up unsmoothed, class numbers on top, model names left.
    (matplotlib took 4 s for the demo's two grids of 70 panels; this takes milliseconds.)"""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=12)
    k = max((g.shape[0] for _, g in grids), default=1)
    left = 8 + max((int(font.getlength(name)) for name, _ in grids), default=0)
    top, gap = 36, 4
    width = left + k * (cell + gap) + gap
    height = top + max(1, len(grids)) * (cell + gap) + gap
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title, fill="black", font=font)
    for c in range(k):
        draw.text(
            (left + c * (cell + gap) + cell // 2 - 3, top - 16), str(c), fill="black", font=font
        )
    for r, (name, protos) in enumerate(grids):
        y = top + r * (cell + gap)
        draw.text((4, y + cell // 2 - 7), name, fill="black", font=font)
        for c in range(protos.shape[0]):
            img = np.clip(np.asarray(protos[c], dtype=np.float32), 0, 1)
            pixels = (img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))) * 255
            tile = Image.fromarray(pixels.round().astype(np.uint8)).convert("RGB")
            canvas.paste(
                tile.resize((cell, cell), Image.Resampling.NEAREST), (left + c * (cell + gap), y)
            )
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


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
