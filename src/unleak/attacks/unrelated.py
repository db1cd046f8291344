"""Inputs for attackers that hold no sample of the target task.

``param-diff`` works from *unrelated* inputs: another data set of the same image shape (resized and
converted between grey and colour when needed), or generated inputs (``noise``: uniform pixels;
``blur``: smoothed noise; ``strokes``: one to three random pen strokes on a plain background).
The target's own data set is refused.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from unleak import data as data_mod
from unleak.errors import ConfigError

GENERATED = ("noise", "blur", "strokes")
SIBLING = {"mnist": "fashion-mnist", "fashion-mnist": "mnist"}


def default_unrelated(dataset: str | None) -> str:
    """Generated noise, blur and strokes, plus the sibling data set where one exists (MNIST and
    Fashion-MNIST for each other): mixing sources was measured to help (docs/results.md)."""
    sibling = SIBLING.get(dataset or "")
    return "noise+blur+strokes" + (f"+{sibling}" if sibling else "")


def attacker_source(spec: str, task: str | None, shadow: bool) -> str:
    """The unrelated inputs an attack draws: ``spec`` (``auto``: :func:`default_unrelated`), less
    the task itself when the attacker runs on its own shadow task (there it is not unrelated)."""
    source = spec if spec != "auto" else default_unrelated(task)
    if shadow:
        parts = [s for s in source.split("+") if s != task]
        source = "+".join(parts or ["noise", "blur"])
    return source


def conform(x: torch.Tensor, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """Resize images (area interpolation) and convert grey/colour to ``input_shape``."""
    c, h, w = input_shape
    if x.shape[2:] != (h, w):
        x = F.interpolate(x, size=(h, w), mode="area")
    if x.shape[1] != c:
        x = (
            x.mean(1, keepdim=True).expand(-1, c, -1, -1)
            if c in (1, 3)
            else x.mean(1, keepdim=True)
        )
    return x.clamp(0, 1).contiguous()


def unrelated_inputs(
    source: str,
    input_shape: tuple[int, int, int],
    n: int = 2000,
    seed: int = 0,
    *,
    target_dataset: str | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> torch.Tensor:
    """``n`` unrelated images of ``input_shape`` in [0, 1] from ``source``.

    ``a+b`` mixes sources in equal shares: a forgotten class is rare on every source, a retained
    class that one source happens to avoid is usually met on another.
    """
    if "+" in source:
        parts = source.split("+")
        shares = [n // len(parts) + (i < n % len(parts)) for i in range(len(parts))]
        return torch.cat(
            [
                unrelated_inputs(
                    part,
                    input_shape,
                    k,
                    seed + i,
                    target_dataset=target_dataset,
                    data_root=data_root,
                )
                for i, (part, k) in enumerate(zip(parts, shares, strict=True))
            ]
        )
    gen = torch.Generator().manual_seed(seed)
    if source == "strokes":
        return strokes(n, input_shape, gen)
    if source == "noise":
        return torch.rand(n, *input_shape, generator=gen)
    if source == "blur":
        x = torch.rand(n, *input_shape, generator=gen)
        k = torch.ones(input_shape[0], 1, 3, 3) / 9.0
        for _ in range(2):
            x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=input_shape[0])
        lo, hi = x.amin((1, 2, 3), keepdim=True), x.amax((1, 2, 3), keepdim=True)
        return (x - lo) / (hi - lo + 1e-6)
    if target_dataset is not None and source == target_dataset:
        raise ConfigError(
            f"unrelated data {source!r} is the target's own data set",
            "pick another data set (or noise/blur): this attacker holds no sample of the task",
        )
    if target_dataset is not None and data_mod.task_of(source) == data_mod.task_of(target_dataset):
        raise ConfigError(
            f"unrelated data {source!r} shows the same task as the target's {target_dataset!r} "
            f"({data_mod.task_of(source)})",
            "pick data of another task (e.g. fashion-mnist for digits) or noise/blur/strokes",
        )
    d = data_mod.load(source, data_root)
    pool = d.train
    idx = torch.randperm(len(pool), generator=gen)[:n]
    return conform(pool.x[idx], input_shape)


def strokes(n: int, input_shape: tuple[int, int, int], gen: torch.Generator) -> torch.Tensor:
    """``n`` images of 1-3 random line segments, anti-aliased, on a random plain background."""
    c, h, w = input_shape
    ys = torch.linspace(0, 1, h)[:, None].expand(h, w)
    xs = torch.linspace(0, 1, w)[None, :].expand(h, w)
    img = torch.zeros(n, h, w)
    count = torch.randint(1, 4, (n,), generator=gen)
    width = 0.04 + 0.08 * torch.rand(n, generator=gen)
    for k in range(3):
        p0, p1 = torch.rand(n, 2, generator=gen), torch.rand(n, 2, generator=gen)
        d = p1 - p0
        t = (
            (
                (xs[None] - p0[:, 0, None, None]) * d[:, 0, None, None]
                + (ys[None] - p0[:, 1, None, None]) * d[:, 1, None, None]
            )
            / (d.pow(2).sum(1)[:, None, None] + 1e-6)
        ).clamp(0, 1)
        dist = torch.hypot(
            xs[None] - p0[:, 0, None, None] - t * d[:, 0, None, None],
            ys[None] - p0[:, 1, None, None] - t * d[:, 1, None, None],
        )
        ink = (1 - (dist / width[:, None, None]).clamp(0, 1)) * (k < count)[:, None, None]
        img = torch.maximum(img, ink)
    bg = 0.3 * torch.rand(n, 1, 1, generator=gen)
    fg = 0.7 + 0.3 * torch.rand(n, 1, 1, generator=gen)
    out = bg + (fg - bg) * img
    invert = torch.rand(n, generator=gen) < 0.5  # dark-on-light as often as light-on-dark
    out = torch.where(invert[:, None, None], 1 - out, out)
    return out[:, None].expand(n, c, h, w).contiguous()
