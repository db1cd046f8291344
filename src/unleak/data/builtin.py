"""The built-in data sets: digits (embedded), MNIST, Fashion-MNIST, CIFAR-10 and SVHN, each with
its official files (path under the data root, md5, URL) and a loader of those files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from unleak.data import readers
from unleak.data.core import Split
from unleak.data.registry import Archive, Arrays, DatasetSpec, OfficialFile, register

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
        task="digits 0-9",
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
        task="digits 0-9",
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
        task="clothing",
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
        task="objects",
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
        task="digits 0-9",
    )
)
