"""In-memory data: a :class:`Split` of images and labels, and a :class:`Dataset` of two splits.

Images are float32 tensors ``(N, C, H, W)`` in the box [0, 1]; models normalise inside themselves,
so inversion attacks can optimise inputs in that same box. Labels are int64 in ``0..K-1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from unleak.errors import DataError, ForgetSetError


def parse_class_list(value: str | Iterable[int], what: str = "forget set") -> list[int]:
    """``"3,7"`` (or ``[3, 7]``) -> ``[3, 7]``: the syntax only; ranges are checked where K is
    known (:func:`parse_classes`)."""
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p != ""]
    else:
        parts = list(value)
    out = []
    for part in parts:
        if isinstance(part, bool):
            part = "bool"
        try:
            number = int(part) if not isinstance(part, float) or part.is_integer() else None
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None:
            raise ForgetSetError(
                f"{what} {value!r} is not a list of class indices",
                "give integers such as 3 or 3,7",
            )
        out.append(number)
    return out


def parse_classes(
    value: str | Iterable[int], num_classes: int, what: str = "forget set"
) -> tuple[int, ...]:
    """Parse and validate 1 to K-1 distinct classes of a K-class task (a forget set, or the
    classes an attacker knows were kept), sorted."""
    return validate_forget_set(parse_class_list(value, what), num_classes, what)


def validate_forget_set(
    forget: Iterable[int], num_classes: int, what: str = "forget set"
) -> tuple[int, ...]:
    """Return the forget set sorted, or raise :class:`ForgetSetError` naming what is wrong.

    A forget set holds 1 to K-1 distinct classes, each in ``0..K-1``.
    """
    try:
        items = [int(c) for c in forget]
    except (TypeError, ValueError) as exc:
        raise ForgetSetError(
            f"{what} {forget!r} is not a list of class indices",
            "give integers such as 3 or 3,7",
        ) from exc
    if not items:
        raise ForgetSetError(f"the {what} is empty", "name at least one class to forget")
    dupes = sorted({c for c in items if items.count(c) > 1})
    if dupes:
        raise ForgetSetError(f"the {what} repeats class(es) {dupes}", "list each class once")
    bad = [c for c in items if not 0 <= c < num_classes]
    if bad:
        raise ForgetSetError(
            f"{what}: class(es) {bad} out of range for {num_classes} classes",
            f"use indices 0..{num_classes - 1}",
        )
    if len(items) >= num_classes:
        raise ForgetSetError(
            f"the {what} holds all {num_classes} classes",
            f"name at most {num_classes - 1} classes so that something is retained",
        )
    return tuple(sorted(items))


def random_forget_sets(
    num_classes: int, sizes: Iterable[int], per_size: int, seed: int
) -> list[tuple[int, ...]]:
    """Forget sets for experiments: ``per_size`` distinct sets of each size, drawn with ``seed``.

    For size 1 these are single classes in a seeded order (every class when ``per_size >= K``).
    """
    gen = torch.Generator().manual_seed(seed)
    out: list[tuple[int, ...]] = []
    for m in sizes:
        validate_forget_set(range(m), num_classes)  # 1 <= m < K
        if m == 1:
            order = torch.randperm(num_classes, generator=gen).tolist()
            out += [(c,) for c in sorted(order[: min(per_size, num_classes)])]
            continue
        limit = math.comb(num_classes, m)
        seen: set[tuple[int, ...]] = set()
        while len(seen) < min(per_size, limit):
            seen.add(tuple(sorted(torch.randperm(num_classes, generator=gen)[:m].tolist())))
        out += sorted(seen)
    return out


@dataclass(frozen=True, eq=False)
class Split:
    """Images ``x`` (float32, N x C x H x W, in [0, 1]) and labels ``y`` (int64, N)."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        x, y = self.x, self.y
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise DataError(
                "Split needs torch tensors x and y", "convert arrays with torch.from_numpy"
            )
        if x.ndim != 4:
            raise DataError(
                f"images have shape {tuple(x.shape)}, expected (N, C, H, W)",
                "add a channel axis (grey images: x[:, None])",
            )
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DataError(
                f"labels have shape {tuple(y.shape)} for {x.shape[0]} images",
                "give one integer label per image",
            )
        if x.dtype != torch.float32:
            raise DataError(
                f"images are {x.dtype}, expected float32 in [0, 1]", "divide uint8 by 255"
            )
        if y.dtype != torch.int64:
            raise DataError(f"labels are {y.dtype}, expected int64", "cast labels with .long()")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise DataError(
                f"labels span {int(y.min())}..{int(y.max())}, outside 0..{self.num_classes - 1}",
                "relabel classes as 0..K-1",
            )

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.x.shape[1:])  # type: ignore[return-value]

    def loader(
        self, batch_size: int = 128, *, shuffle: bool = True, seed: int = 0
    ) -> torch.utils.data.DataLoader:
        """A torch ``DataLoader`` of ``(x, y)`` batches, shuffled with ``seed`` (for methods of
        your own; an empty split gives an empty loader)."""
        from torch.utils.data import DataLoader, TensorDataset

        gen = torch.Generator().manual_seed(seed)
        return DataLoader(
            TensorDataset(self.x, self.y),
            batch_size=batch_size,
            shuffle=shuffle and len(self) > 0,
            generator=gen,
        )

    def class_counts(self) -> np.ndarray:
        """Number of samples of each class, length K."""
        return np.bincount(self.y.numpy(), minlength=self.num_classes)

    def take(self, index: torch.Tensor | np.ndarray | Sequence[int]) -> Split:
        """A new split holding the samples at ``index`` (indices or a boolean mask)."""
        index = torch.as_tensor(index)
        return Split(self.x[index], self.y[index], self.num_classes)

    def only_classes(self, classes: Iterable[int]) -> Split:
        """The samples whose label is in ``classes``."""
        keep = torch.isin(self.y, torch.as_tensor(list(classes), dtype=torch.int64))
        return self.take(keep)

    def split_classes(self, forget: Iterable[int]) -> tuple[Split, Split]:
        """``(retain, forget)``: the samples of the other classes, and those of ``forget``.

        Labels are never changed; the forget set is validated (1 to K-1 distinct classes).
        """
        forget = validate_forget_set(forget, self.num_classes)
        mask = torch.isin(self.y, torch.as_tensor(forget, dtype=torch.int64))
        return self.take(~mask), self.take(mask)

    def per_class_sample(self, n: int, classes: Iterable[int], seed: int) -> Split:
        """Up to ``n`` samples of each class in ``classes``, chosen with ``seed``."""
        gen = torch.Generator().manual_seed(seed)
        picks = []
        for c in classes:
            idx = torch.nonzero(self.y == int(c)).flatten()
            picks.append(idx[torch.randperm(len(idx), generator=gen)[:n]])
        index = torch.cat(picks) if picks else torch.zeros(0, dtype=torch.int64)
        return self.take(torch.sort(index).values)

    def stratified_split(self, fraction: float, seed: int) -> tuple[Split, Split]:
        """``(rest, held_out)`` with ``fraction`` of every class held out, chosen with ``seed``."""
        gen = torch.Generator().manual_seed(seed)
        held = []
        for c in range(self.num_classes):
            idx = torch.nonzero(self.y == c).flatten()
            k = round(len(idx) * fraction)
            held.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
        mask = torch.zeros(len(self), dtype=torch.bool)
        mask[torch.cat(held)] = True
        return self.take(~mask), self.take(mask)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A named data set: train and test splits, class names, and the input statistics."""

    name: str
    train: Split
    test: Split
    class_names: tuple[str, ...]
    source: str = ""
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.train.input_shape != self.test.input_shape:
            raise DataError(
                f"train images are {self.train.input_shape} but test images are "
                f"{self.test.input_shape}",
                "give both splits the same image shape",
            )
        k = len(self.class_names)
        if self.train.num_classes != k or self.test.num_classes != k:
            raise DataError(
                f"{k} class names for splits of {self.train.num_classes}/{self.test.num_classes} "
                "classes",
                "give one name per class",
            )
        if not self.mean:
            mean, std = channel_stats(self.train.x)
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "std", std)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.train.input_shape

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
            f"K={self.num_classes}, input_shape={self.input_shape})"
        )


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of images in [0, 1] (float64 accumulation)."""
    c = x.shape[1]
    flat = x.transpose(0, 1).reshape(c, -1).double()
    std = flat.std(dim=1).clamp_min(1e-3)
    return tuple(flat.mean(dim=1).tolist()), tuple(std.tolist())


def from_arrays(x: np.ndarray, y: np.ndarray, num_classes: int, what: str) -> Split:
    """Build a :class:`Split` from uint8 or float images (N,H,W | N,H,W,C | N,C,H,W) and labels."""
    if x.dtype == object or y.dtype == object:
        raise DataError(f"{what}: object arrays are not allowed", "store plain numeric arrays")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    else:
        raise DataError(
            f"{what}: images have shape {x.shape}",
            "store x as (N, H, W), (N, H, W, C) or (N, C, H, W)",
        )
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"{what}: {len(x)} images but labels of shape {y.shape}", "store one label per image"
        )
    if not np.issubdtype(y.dtype, np.integer):
        if (
            np.issubdtype(y.dtype, np.floating)
            and np.all(np.isfinite(y))
            and np.all(y == np.round(y))
        ):
            y = y.astype(np.int64)
        else:
            raise DataError(f"{what}: labels are {y.dtype}, not integers", "store y as integers")
    if x.dtype == np.uint8:
        xt = torch.from_numpy(x.astype(np.float32)).div_(255.0)  # astype copies: writable
    elif np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise DataError(f"{what}: images contain NaN or infinity", "clean or drop those images")
        lo, hi = float(x.min(initial=0.0)), float(x.max(initial=0.0))
        if lo < 0.0 or hi > 1.0:
            raise DataError(
                f"{what}: float images span [{lo:.3g}, {hi:.3g}], outside [0, 1]",
                "store uint8 pixels or floats scaled to [0, 1]",
            )
        xt = torch.from_numpy(np.array(x, dtype=np.float32))
    else:
        raise DataError(f"{what}: images are {x.dtype}", "store uint8 pixels or floats in [0, 1]")
    return Split(xt.contiguous(), torch.from_numpy(y.astype(np.int64)), num_classes)
