"""The registry of named data sets, the data root, loading, checking and downloading.

A data set is registered by name with the official files it needs (path under the data root, md5,
URL) and a loader that turns those files into arrays. ``npz:TRAIN[,TEST]`` names user arrays.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from unleak.data import readers
from unleak.data.core import Dataset, Split, from_arrays
from unleak.errors import DataError, unknown_name

log = logging.getLogger(__name__)

DIGIT_NAMES = tuple(str(i) for i in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

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
    name: str
    description: str
    class_names: tuple[str, ...]
    loader: Callable[[Path], Arrays]
    files: tuple[OfficialFile, ...] = ()
    archives: tuple[Archive, ...] = field(default=())
    needs_root: bool = True


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
    or ``npz:TRAIN[,TEST]`` (arrays ``x``, ``y``; with one file, a stratified ``test_fraction`` is
    held out with a fixed seed, so every run sees the same split).
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction={test_fraction}", "choose a fraction between 0 and 1")
    if name.startswith("npz:"):
        return _load_npz(name, test_fraction)
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


def _load_npz(name: str, test_fraction: float) -> Dataset:
    paths = [Path(p).expanduser() for p in name[4:].split(",") if p]
    if not 1 <= len(paths) <= 2:
        raise DataError(f"{name!r} names {len(paths)} files", "write npz:TRAIN.npz[,TEST.npz]")
    parts = [readers.read_npz(p) for p in paths]
    labels = [p[1] for p in parts]
    class_names = next((p[2] for p in parts if p[2] is not None), None)
    for y, p in zip(labels, paths, strict=True):
        if y.size == 0:
            raise DataError(f"{p} holds no samples", "store at least one image per class")
        if np.issubdtype(y.dtype, np.number) and np.nanmin(y) < 0:
            raise DataError(f"{p} has negative labels", "label classes 0..K-1")
    k = len(class_names) if class_names else int(max(np.nanmax(y) for y in labels)) + 1
    if k < 2:
        raise DataError(f"{name!r} has a single class", "give at least two classes")
    names_ = tuple(class_names) if class_names else tuple(str(i) for i in range(k))
    train = from_arrays(parts[0][0], parts[0][1], k, str(paths[0]))
    if len(paths) == 2:
        test = from_arrays(parts[1][0], parts[1][1], k, str(paths[1]))
    else:
        train, test = train.stratified_split(test_fraction, seed=0)
    return Dataset(name=name, train=train, test=test, class_names=names_, source=str(paths[0]))


# --------------------------------------------------------------------------- checks, downloads


def md5_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class FileCheck:
    path: Path
    expected: str
    actual: str | None  # None when the file is missing

    @property
    def ok(self) -> bool:
        return self.actual == self.expected


def check(name: str, root: str | os.PathLike[str] | None = None) -> list[FileCheck]:
    """md5 of every official file of ``name`` under the data root (missing files have ``None``)."""
    s = spec(name)
    base = resolve_root(root)
    out = []
    for f in s.files:
        p = base / f.path
        out.append(FileCheck(p, f.md5, md5_of(p) if p.is_file() else None))
    return out


def download(name: str, root: str | os.PathLike[str] | None = None) -> list[FileCheck]:
    """Fetch the official files of ``name`` into the data root, verifying every md5."""
    import pooch

    s = spec(name)
    if not s.files:
        return []
    base = resolve_root(root)
    todo = [f for f in check(name, base) if not f.ok]
    if not todo:
        return check(name, base)
    where = ", ".join(str(base / f.path) for f in s.files)

    def fetch(urls: tuple[str, ...], md5: str, dest: Path) -> Path:
        errors = []
        for url in urls:
            try:
                got = pooch.retrieve(
                    url,
                    known_hash=f"md5:{md5}",
                    fname=dest.name,
                    path=dest.parent,
                    progressbar=False,
                )
                return Path(got)
            except Exception as exc:  # pooch raises requests, OS and hash errors alike
                errors.append(f"{url}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        raise DataError(
            f"could not download {name} ({'; '.join(errors)})",
            f"fetch the official files by hand and put them at {where}",
        )

    archives = {a.name: a for a in s.archives}
    for f in s.files:
        dest = base / f.path
        if dest.is_file() and md5_of(dest) == f.md5:
            continue
        if f.archive:
            a = archives[f.archive]
            got = fetch(a.urls, a.md5, base / a.name)
            _extract(got, base)
        else:
            fetch(f.urls, f.md5, dest)
    result = check(name, base)
    bad = [str(c.path) for c in result if not c.ok]
    if bad:
        raise DataError(
            f"{name}: md5 mismatch after download for {', '.join(bad)}",
            "delete those files and download again",
        )
    return result


def _extract(archive: Path, base: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(base, filter="data")  # "data" refuses absolute paths, links out, devices


# --------------------------------------------------------------------------- built-in data sets


def _digits(_: Path) -> Arrays:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32))[:, None]
    full = Split(x, torch.from_numpy(d.target.astype(np.int64)), 10)
    train, test = full.stratified_split(0.25, seed=0)
    return train.x.numpy(), train.y.numpy(), test.x.numpy(), test.y.numpy()


def _idx_loader(folder: str) -> Callable[[Path], Arrays]:
    def load_idx(base: Path) -> Arrays:
        r = base / folder
        return (
            readers.read_idx(r / "train-images-idx3-ubyte.gz"),
            readers.read_idx(r / "train-labels-idx1-ubyte.gz").astype(np.int64),
            readers.read_idx(r / "t10k-images-idx3-ubyte.gz"),
            readers.read_idx(r / "t10k-labels-idx1-ubyte.gz").astype(np.int64),
        )

    return load_idx


def _cifar10(base: Path) -> Arrays:
    folder = base / "cifar-10-batches-py"
    parts = [readers.read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_te, y_te = readers.read_cifar_batch(folder / "test_batch")
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        x_te,
        y_te,
    )


def _svhn(base: Path) -> Arrays:
    x_tr, y_tr = readers.read_svhn_mat(base / "train_32x32.mat")
    x_te, y_te = readers.read_svhn_mat(base / "test_32x32.mat")
    return x_tr, y_tr, x_te, y_te


def _idx_files(
    folder: str, md5s: dict[str, str], mirrors: tuple[str, ...]
) -> tuple[OfficialFile, ...]:
    return tuple(
        OfficialFile(f"{folder}/{fname}", md5, tuple(m + fname for m in mirrors))
        for fname, md5 in md5s.items()
    )


register(
    DatasetSpec(
        "digits",
        "scikit-learn's 8x8 handwritten digits, embedded (1,797 images; fixed 75/25 split)",
        DIGIT_NAMES,
        _digits,
        needs_root=False,
    )
)
register(
    DatasetSpec(
        "mnist",
        "MNIST handwritten digits, official IDX files in MNIST/raw",
        DIGIT_NAMES,
        _idx_loader("MNIST/raw"),
        _idx_files(
            "MNIST/raw",
            {
                "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
            },
            (
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ),
        ),
    )
)
register(
    DatasetSpec(
        "fashion-mnist",
        "Fashion-MNIST (Zalando), official IDX files in FashionMNIST/raw",
        FASHION_NAMES,
        _idx_loader("FashionMNIST/raw"),
        _idx_files(
            "FashionMNIST/raw",
            {
                "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
            },
            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        ),
    )
)
_CIFAR_ARCHIVE = Archive(
    "cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
)
register(
    DatasetSpec(
        "cifar10",
        "CIFAR-10, official python batches in cifar-10-batches-py",
        CIFAR10_NAMES,
        _cifar10,
        tuple(
            OfficialFile(f"cifar-10-batches-py/{fname}", md5, archive=_CIFAR_ARCHIVE.name)
            for fname, md5 in {
                "data_batch_1": "c99cafc152244af753f735de768cd75f",
                "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                "data_batch_4": "634d18415352ddfa80567beed471001a",
                "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                "test_batch": "40351d587109b95175f43aff81a1287e",
            }.items()
        ),
        (_CIFAR_ARCHIVE,),
    )
)
register(
    DatasetSpec(
        "svhn",
        "SVHN cropped digits (format 2), train_32x32.mat and test_32x32.mat",
        DIGIT_NAMES,
        _svhn,
        (
            OfficialFile(
                "train_32x32.mat",
                "e26dedcc434d2e4c54c9b2d4a06d8373",
                ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",),
            ),
            OfficialFile(
                "test_32x32.mat",
                "eb5a983be6a315427106f1b164d9cef3",
                ("http://ufldl.stanford.edu/housenumbers/test_32x32.mat",),
            ),
        ),
    )
)
