"""The registry of named data sets, the data root, and loading (registered names and ``npz:``).

A data set is registered by name with the official files it needs (path under the data root, md5,
URL) and a loader that turns those files into arrays. ``npz:TRAIN[,TEST]`` names user arrays.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unleak.data import readers
from unleak.data.core import Dataset, from_arrays
from unleak.errors import DataError, unknown_name

log = logging.getLogger(__name__)

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class OfficialFile:
    """One official file: where it lives under the data root, its md5, where to fetch it."""

    path: str
    md5: str
    urls: tuple[str, ...] = ()
    archive: str | None = None  # name of the official archive that holds it, if any


@dataclass(frozen=True)
class Archive:
    name: str
    md5: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set. ``task`` names what its classes are (data sets of the same task,
    such as digits, MNIST and SVHN, are never one another's "unrelated" data)."""

    name: str
    description: str
    class_names: tuple[str, ...]
    loader: Callable[[Path], Arrays]
    files: tuple[OfficialFile, ...] = ()
    archives: tuple[Archive, ...] = field(default=())
    needs_root: bool = True
    task: str = ""


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a data set to the registry (name clashes are a programming error)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"data set {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def names() -> list[str]:
    """Registered data set names (``npz:PATH`` is accepted as well)."""
    return sorted(_REGISTRY)


def spec(name: str) -> DatasetSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(
            unknown_name("data set", name, [*names(), "npz:PATH"]),
            "pick one of those names (see `unleak data list`)",
        ) from None


def task_of(name: str | None) -> str | None:
    """The task of a data set name (``digits 0-9`` for digits, MNIST and SVHN); ``npz:`` data and
    unknown names are their own task."""
    if name is None:
        return None
    if name in _REGISTRY:
        return _REGISTRY[name].task or name
    return name


def resolve_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root`` if given, else ``$UNLEAK_DATA``, else a per-user cache folder."""
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get("UNLEAK_DATA")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("unleak"))


def load(
    name: str = "digits",
    root: str | os.PathLike[str] | None = None,
    *,
    test_fraction: float = 0.2,
) -> Dataset:
    """Load a data set by name: ``digits``, ``mnist``, ``fashion-mnist``, ``cifar10``, ``svhn``,
    ``npz:TRAIN[,TEST]`` (arrays ``x``, ``y``) or ``folder:PATH`` (one sub-folder of images per
    class). With one file or folder, a stratified ``test_fraction`` is held out with a fixed
    seed, so every run sees the same split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction={test_fraction}", "choose a fraction between 0 and 1")
    if name.startswith("npz:"):
        return _load_npz(name, test_fraction)
    if name.startswith("folder:"):
        path = Path(name.removeprefix("folder:")).expanduser()
        x, y, classes = readers.read_image_folder(path)
        return user_dataset(name, [(x, y)], classes, test_fraction, str(path))
    s = spec(name)
    base = resolve_root(root) if s.needs_root else Path(".")
    return _load_registered(name, str(base.resolve()) if s.needs_root else "")


@functools.lru_cache(maxsize=4)
def _load_registered(name: str, root: str) -> Dataset:
    s = spec(name)
    base = Path(root)
    if s.needs_root:
        missing = [f.path for f in s.files if not (base / f.path).is_file()]
        if missing:
            raise DataError(
                f"{name}: missing file(s) {', '.join(missing)} under {base}",
                f"run `unleak data download {name} --data-root {base}`, or copy the official "
                "files there, or point --data-root / UNLEAK_DATA at a folder that has them",
            )
    x_tr, y_tr, x_te, y_te = s.loader(base)
    k = len(s.class_names)
    return Dataset(
        name=name,
        train=from_arrays(x_tr, y_tr, k, f"{name} train"),
        test=from_arrays(x_te, y_te, k, f"{name} test"),
        class_names=s.class_names,
        source=str(base) if s.needs_root else "scikit-learn (embedded)",
    )


MAX_CLASSES = 10_000
MIN_PER_CLASS = 5  # a held-out split needs at least one sample of every class


def _load_npz(name: str, test_fraction: float) -> Dataset:
    paths = [Path(p).expanduser() for p in name[4:].split(",") if p]
    if not 1 <= len(paths) <= 2:
        raise DataError(f"{name!r} names {len(paths)} files", "write npz:TRAIN.npz[,TEST.npz]")
    parts = [readers.read_npz(p) for p in paths]
    class_names = next((p[2] for p in parts if p[2] is not None), None)
    return user_dataset(
        name, [(p[0], p[1]) for p in parts], class_names, test_fraction, str(paths[0]), paths
    )


def user_dataset(
    name: str,
    parts: list[tuple[np.ndarray, np.ndarray]],
    class_names: list[str] | None,
    test_fraction: float,
    source: str,
    paths: list[Path] | None = None,
) -> Dataset:
    """A data set from user arrays: one part (a stratified split is held out) or train and test.

    Labels must be integers 0..K-1 with every class present; K is the number of class names, or
    the largest label + 1.
    """
    where = [str(p) for p in paths] if paths else [source] * len(parts)
    labels = []
    for (_, y), w in zip(parts, where, strict=True):
        if y.dtype.kind in "USO":
            raise DataError(
                f"{w}: labels are {(y.dtype.kind == 'O' and 'objects') or 'strings'}, not integers",
                "store labels as integers 0..K-1 and the names as an array `classes`",
            )
        if y.size == 0:
            raise DataError(f"{w} holds no samples", "store at least one image per class")
        if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
            raise DataError(f"{w}: labels hold NaN or infinity", "store integer labels")
        if np.issubdtype(y.dtype, np.number) and np.min(y) < 0:
            raise DataError(f"{w} has negative labels", "label classes 0..K-1")
        labels.append(y)
    top = max(float(np.max(y)) for y in labels)
    if top >= MAX_CLASSES:
        raise DataError(
            f"{name!r} has a label of {top:.0f}, which would make {top + 1:.0f} classes",
            f"label classes 0..K-1 (at most {MAX_CLASSES} classes)",
        )
    k = len(class_names) if class_names else int(top) + 1
    if k < 2:
        raise DataError(f"{name!r} has a single class", "give at least two classes")
    if top >= k:
        raise DataError(
            f"{name!r} has label {top:.0f} but {k} class names", "give one name per class"
        )
    names_ = tuple(class_names) if class_names else tuple(str(i) for i in range(k))
    train = from_arrays(parts[0][0], parts[0][1], k, where[0])
    counts = train.class_counts()
    missing = [c for c in range(k) if counts[c] == 0]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise DataError(
            f"{where[0]}: class(es) {shown} of 0..{k - 1} have no sample",
            "relabel the classes present as 0..K-1 (or give their names in `classes`)",
        )
    if len(parts) == 2:
        test = from_arrays(parts[1][0], parts[1][1], k, where[1])
    else:
        few = [c for c in range(k) if counts[c] < MIN_PER_CLASS]
        if few:
            raise DataError(
                f"{where[0]}: class(es) {few[:5]} have fewer than {MIN_PER_CLASS} samples, too "
                "few to hold any out for testing",
                f"give at least {MIN_PER_CLASS} samples of every class, or a separate test file",
            )
        train, test = train.stratified_split(test_fraction, seed=0)
    return Dataset(name=name, train=train, test=test, class_names=names_, source=source)
