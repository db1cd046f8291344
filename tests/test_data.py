"""Data: the registry, the official file formats, splits and forget sets, on real files."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import scipy.io
import torch

import unleak as ul
from unleak.data import readers
from unleak.errors import DataError, ForgetSetError

MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_digits_is_embedded_with_a_fixed_stratified_split(digits):
    assert digits.num_classes == 10 and digits.input_shape == (1, 8, 8)
    assert len(digits.train) + len(digits.test) == 1797
    assert float(digits.train.x.min()) >= 0.0 and float(digits.train.x.max()) <= 1.0
    frac = digits.test.class_counts() / (digits.test.class_counts() + digits.train.class_counts())
    assert np.allclose(frac, 0.25, atol=0.02)
    again = ul.data.load("digits")
    assert torch.equal(again.test.y, digits.test.y)


@pytest.mark.shared_data
def test_mnist_official_files(shared_data):
    d = ul.data.load("mnist", shared_data)
    assert d.train.x.shape == (60000, 1, 28, 28) and d.test.x.shape == (10000, 1, 28, 28)
    assert d.train.class_counts().tolist() == MNIST_TRAIN
    assert d.test.class_counts().tolist() == MNIST_TEST
    assert all(c.ok for c in ul.data.check("mnist", shared_data))


@pytest.mark.shared_data
def test_fashion_mnist_official_files(shared_data):
    d = ul.data.load("fashion-mnist", shared_data)
    assert d.train.class_counts().tolist() == [6000] * 10
    assert d.test.class_counts().tolist() == [1000] * 10
    assert d.class_names[0] == "T-shirt/top"
    assert all(c.ok for c in ul.data.check("fashion-mnist", shared_data))


@pytest.mark.shared_data
def test_cifar10_lossless_npz_with_held_out_split(shared_file):
    path = shared_file("CIFAR10", "cifar10_train_exact.npz")
    assert ul.data.files.md5_of(path) == "0fa8b116c3e6e2120a78e93d48796cd3"
    d = ul.data.load(f"npz:{path}")
    assert d.input_shape == (3, 32, 32)
    assert len(d.train) == 40000 and len(d.test) == 10000
    assert d.test.class_counts().tolist() == [1000] * 10
    # published training-set channel means
    assert np.allclose(d.mean, (0.49139968, 0.48215841, 0.44653091), atol=2e-3)


@pytest.mark.shared_data
def test_svhn_npz_first_10000_test_images(shared_file):
    path = shared_file("SVHN", "svhn_test_exact_first10000.npz")
    assert ul.data.files.md5_of(path) == "f9343c9a344eaad066a2c0e344bc7f7a"
    d = ul.data.load(f"npz:{path}")
    counts = d.train.class_counts() + d.test.class_counts()
    assert counts.tolist() == [684, 1968, 1590, 1104, 964, 909, 773, 767, 621, 620]
    assert d.input_shape == (3, 32, 32)


def _write_cifar_batch(path, n, seed, label_key=b"labels"):
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"training batch",
        label_key: rng.integers(0, 10, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return batch


def test_cifar10_official_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_write_cifar_batch(folder / f"data_batch_{i}", 20, i) for i in range(1, 6)]
    test = _write_cifar_batch(folder / "test_batch", 10, 99)
    d = ul.data.load("cifar10", tmp_path)
    assert d.train.x.shape == (100, 3, 32, 32) and len(d.test) == 10
    first = batches[0][b"data"][0].reshape(3, 32, 32)
    assert torch.equal((d.train.x[0] * 255).round().to(torch.uint8), torch.from_numpy(first))
    assert d.test.y.tolist() == test[b"labels"]


def test_cifar_reader_refuses_code_in_a_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataError, match="not allowed"):
        readers.read_cifar_batch(path)


def test_svhn_official_mat_label_10_is_digit_0(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 6)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = np.array([(i % 10) + 1 for i in range(n)], dtype=np.uint8)[:, None]
        scipy.io.savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": y})
    d = ul.data.load("svhn", tmp_path)
    assert d.train.x.shape == (12, 3, 32, 32)
    assert d.train.y.tolist()[:10] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    raw = scipy.io.loadmat(tmp_path / "train_32x32.mat")["X"]
    assert torch.equal(
        (d.train.x[3] * 255).round().to(torch.uint8), torch.from_numpy(raw[..., 3]).permute(2, 0, 1)
    )


def test_npz_two_files_and_bad_arrays(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "tr.npz", x=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8), y=np.arange(30) % 3
    )
    np.savez(
        tmp_path / "te.npz", x=rng.integers(0, 256, (9, 8, 8), dtype=np.uint8), y=np.arange(9) % 3
    )
    d = ul.data.load(f"npz:{tmp_path / 'tr.npz'},{tmp_path / 'te.npz'}")
    assert (len(d.train), len(d.test), d.num_classes, d.input_shape) == (30, 9, 3, (1, 8, 8))

    np.savez(tmp_path / "obj.npz", x=np.array([object()] * 3, dtype=object), y=np.arange(3))
    with pytest.raises(DataError, match="unpickling"):
        ul.data.load(f"npz:{tmp_path / 'obj.npz'}")
    np.savez(
        tmp_path / "nan.npz", x=np.full((4, 8, 8), np.nan, dtype=np.float32), y=np.arange(4) % 2
    )
    with pytest.raises(DataError, match="NaN"):
        ul.data.load(f"npz:{tmp_path / 'nan.npz'}")
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match="no array"):
        ul.data.load(f"npz:{tmp_path / 'nolabels.npz'}")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a readable npz"):
        ul.data.load(f"npz:{tmp_path / 'junk.npz'}")


def test_corrupt_and_truncated_idx_files(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(DataError, match="corrupt"):
        readers.read_idx(bad)
    trunc = tmp_path / "trunc.gz"
    with gzip.open(trunc, "wb") as fh:
        fh.write(
            bytes([0, 0, 8, 3])
            + (100).to_bytes(4, "big")
            + (28).to_bytes(4, "big") * 2
            + b"\x00" * 50
        )
    with pytest.raises(DataError, match="header promises"):
        readers.read_idx(trunc)


def test_unknown_and_missing_data_sets(tmp_path):
    with pytest.raises(DataError, match=r"unknown data set 'mnits'.*known: .*mnist"):
        ul.data.load("mnits")
    with pytest.raises(DataError, match=r"missing file.*unleak data download mnist"):
        ul.data.load("mnist", tmp_path)


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("UNLEAK_DATA", str(tmp_path / "env"))
    assert ul.data.resolve_root(None) == tmp_path / "env"
    assert ul.data.resolve_root(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("UNLEAK_DATA")
    assert "unleak" in str(ul.data.resolve_root(None))


def test_download_offline_names_the_files_to_place(monkeypatch, tmp_path):
    from unleak.data import registry

    spec = registry.spec("fashion-mnist")
    offline = tuple(
        registry.OfficialFile(f.path, f.md5, ("http://127.0.0.1:9/" + f.path.split("/")[-1],))
        for f in spec.files
    )
    monkeypatch.setitem(
        registry._REGISTRY,
        "fashion-mnist",
        registry.DatasetSpec(**{**spec.__dict__, "files": offline}),
    )
    with pytest.raises(DataError) as info:
        ul.data.download("fashion-mnist", tmp_path)
    msg = str(info.value)
    assert (
        "could not download fashion-mnist" in msg
        and "FashionMNIST/raw/train-images-idx3-ubyte.gz" in msg
    )
    assert "\n" not in msg
    assert not (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()


def test_split_classes_never_mixes_and_keeps_labels(digits):
    retain, forget = digits.train.split_classes([3, 7])
    assert set(forget.y.unique().tolist()) == {3, 7}
    assert not set(retain.y.unique().tolist()) & {3, 7}
    assert len(retain) + len(forget) == len(digits.train)


@pytest.mark.parametrize(
    ("forget", "match"),
    [
        ([], "empty"),
        (list(range(10)), "all 10 classes"),
        ([10], "out of range"),
        ([-1], "out of range"),
        ([3, 3], "repeats"),
    ],
)
def test_impossible_forget_sets_are_refused(digits, forget, match):
    with pytest.raises(ForgetSetError, match=match):
        digits.train.split_classes(forget)
