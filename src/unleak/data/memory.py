"""Data you hold in memory: tensors or arrays, a torch ``Dataset`` or a ``DataLoader``.

>>> data = ul.data.from_torch(train_loader, test_loader)        # or (x, y) pairs
>>> data = ul.data.as_dataset({"train": (x, y), "test": (xt, yt)})

Everything goes through the same checks as ``npz:`` files (:func:`user_dataset`): images
``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)``, uint8 or floats in [0, 1]; integer labels
0..K-1 with every class present. With one part, a stratified ``test_fraction`` is held out with a
fixed seed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from unleak.data.core import Dataset
from unleak.data.registry import load, user_dataset
from unleak.errors import DataError

HOW = "give (x, y) tensors or arrays, a torch Dataset of (x, y) items, or a DataLoader of them"


def _numpy(value: Any, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise DataError(f"{what} is a {type(value).__name__}, not a tensor or array", HOW)


def _pair(item: Any, what: str) -> tuple[Any, Any]:
    if isinstance(item, tuple | list) and len(item) == 2:
        return item[0], item[1]
    if isinstance(item, Mapping) and {"x", "y"} <= set(item):
        return item["x"], item["y"]
    raise DataError(f"{what} holds {type(item).__name__} items, not (x, y) pairs", HOW)


def arrays_of(part: Any, what: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as numpy arrays from a pair, a torch ``Dataset`` or a ``DataLoader``."""
    from torch.utils.data import DataLoader
    from torch.utils.data import Dataset as TorchDataset

    if isinstance(part, tuple | list) and len(part) == 2 and not isinstance(part[0], tuple):
        x, y = _pair(part, what)
        return _numpy(x, f"{what} images"), _numpy(y, f"{what} labels")
    if isinstance(part, DataLoader):
        xs, ys = [], []
        for batch in part:
            x, y = _pair(batch, what)
            xs.append(_numpy(torch.as_tensor(x), f"{what} images"))
            ys.append(_numpy(torch.as_tensor(y), f"{what} labels"))
        if not xs:
            raise DataError(f"{what}: the DataLoader gave no batch", "give it at least one sample")
        return np.concatenate(xs), np.concatenate(ys)
    if isinstance(part, TorchDataset) and hasattr(part, "__len__"):
        items = [_pair(part[i], what) for i in range(len(part))]  # type: ignore[arg-type]
        if not items:
            raise DataError(f"{what}: the Dataset is empty", "give it at least one sample")
        x = np.stack([_numpy(torch.as_tensor(a), f"{what} images") for a, _ in items])
        y = np.array([int(torch.as_tensor(b)) for _, b in items])
        return x, y
    raise DataError(f"{what} is a {type(part).__name__}", HOW)


def from_torch(
    train: Any,
    test: Any = None,
    *,
    name: str = "memory",
    class_names: list[str] | None = None,
    test_fraction: float = 0.2,
) -> Dataset:
    """A :class:`Dataset` from in-memory ``train`` (and ``test``) data; see the module doc."""
    parts = [arrays_of(train, "train data")]
    if test is not None:
        parts.append(arrays_of(test, "test data"))
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction={test_fraction}", "choose a fraction between 0 and 1")
    return user_dataset(name, parts, class_names, test_fraction, f"{name} (in memory)")


def as_dataset(data: Any, root: str | os.PathLike[str] | None = None) -> Dataset:
    """``data`` as a :class:`Dataset`: one already, a name (``digits``, ``npz:PATH``...), a
    mapping ``{"train": ..., "test": ...}``, or one part (a held-out test split is drawn)."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str):
        return load(data, root)
    if isinstance(data, Mapping) and "train" in data:
        unknown = sorted(set(data) - {"train", "test", "class_names", "name"})
        if unknown:
            raise DataError(f"data has unknown key(s) {unknown}", "use train, test, class_names")
        return from_torch(
            data["train"],
            data.get("test"),
            name=data.get("name", "memory"),
            class_names=data.get("class_names"),
        )
    return from_torch(data)
