"""Readers of the file formats: gzipped IDX, CIFAR-10 python pickles, SVHN .mat, npz, and folders
of class sub-folders of images (the layout torchvision's ImageFolder reads).

Each reader checks what it reads and raises :class:`DataError` naming the file and the fix. None of
them executes code from a file: npz is read with ``allow_pickle=False`` and the CIFAR-10 pickles
through an unpickler that only rebuilds plain containers and numpy arrays.
"""

from __future__ import annotations

import gzip
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from unleak.errors import DataError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _corrupt(path: Path, detail: str) -> DataError:
    return DataError(
        f"{path} is corrupt ({detail})",
        "delete it and run `unleak data download`, or copy the official file there",
    )


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file, the MNIST / Fashion-MNIST format."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path) as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise _corrupt(path, f"not a readable gzip file: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise _corrupt(path, "no IDX magic number")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise _corrupt(path, "truncated IDX header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise _corrupt(path, f"{len(raw)} bytes where the header promises {expected}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, strings, numbers and numpy arrays; refuses every other global."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),  # protocol-2 pickles written by Python 3 store bytes this way
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch: ``(x uint8 N x 3 x 32 x 32, y int64 N)``."""
    try:
        with path.open("rb") as fh:
            obj = _ArrayOnlyUnpickler(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise _corrupt(path, f"not a CIFAR-10 batch: {exc}") from exc
    if not isinstance(obj, dict):
        raise _corrupt(path, "not a CIFAR-10 batch: no dictionary")
    data = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if not isinstance(data, np.ndarray) or labels is None:
        raise _corrupt(path, "no 'data' array or 'labels' list")
    labels = np.asarray(labels, dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise _corrupt(path, f"data is {data.dtype} {data.shape}, expected uint8 (N, 3072)")
    if labels.shape != (data.shape[0],):
        raise _corrupt(path, f"{len(labels)} labels for {data.shape[0]} images")
    return data.reshape(-1, 3, 32, 32), labels


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an SVHN cropped-digits ``*_32x32.mat``: ``(x uint8 N x 3 x 32 x 32, y digits 0-9)``."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
    except FileNotFoundError:
        raise
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise _corrupt(path, f"not a MATLAB v5 file: {exc}") from exc
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None:
        raise _corrupt(path, "no X or y variable")
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise _corrupt(path, f"X is {x.dtype} {x.shape}, expected uint8 (32, 32, 3, N)")
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if len(y) != x.shape[3] or y.min(initial=1) < 1 or y.max(initial=10) > 10:
        raise _corrupt(path, "labels are not the digits 1..10 with one per image")
    y[y == 10] = 0  # SVHN stores the digit 0 as label 10
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read arrays ``x``, ``y`` (and optional ``classes`` names) from an npz, never unpickling."""
    if not path.is_file():
        raise DataError(f"no file {path}", "check the path after npz:")
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path} is not a readable npz file (no zip archive)", "write it with numpy.savez"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"x", "y"} - set(npz.files)
            if missing:
                raise DataError(
                    f"{path} has no array(s) {sorted(missing)} (it has {npz.files})",
                    "save images as x and labels as y: np.savez(path, x=x, y=y)",
                )
            x, y = npz["x"], npz["y"]
            classes = [str(c) for c in npz["classes"].tolist()] if "classes" in npz.files else None
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(
                f"{path} holds object arrays, which would need unpickling",
                "save plain numeric arrays",
            ) from exc
        raise _corrupt(path, str(exc)) from exc
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise DataError(
            f"{path} is not a readable npz file ({exc})", "write it with numpy.savez"
        ) from exc
    return x, y, classes


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
MAX_IMAGES = 2_000_000


def read_image_folder(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images under ``root/<class>/`` (one sub-folder per class, sorted by name): ``(x uint8
    (N, H, W) or (N, H, W, 3), y, class names)``. Grey images stay grey unless any is colour."""
    from PIL import Image, UnidentifiedImageError  # imported where used: start-up time

    if not root.is_dir():
        raise DataError(f"no folder {root}", "give folder:PATH with one sub-folder per class")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise DataError(
            f"{root} has {len(classes)} class sub-folder(s)",
            "put the images of each class in a sub-folder of its own (at least two)",
        )
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        found = sorted(
            f for f in (root / name).iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise DataError(
                f"class folder {root / name} holds no image",
                f"add images ({', '.join(IMAGE_SUFFIXES[:4])}...) or remove the folder",
            )
        files += [(f, label) for f in found]
        if len(files) > MAX_IMAGES:
            raise DataError(f"{root} holds more than {MAX_IMAGES} images", "use an npz file")
    images, size, colour = [], None, False
    for f, _ in files:
        try:
            with Image.open(f) as im:
                im.load()
                colour = colour or im.mode not in ("1", "L", "I", "I;16", "F", "LA", "P")
                images.append(im.copy())
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(
                f"{f} is not a readable image ({type(exc).__name__})", "replace or remove it"
            ) from None
        if size is None:
            size = images[-1].size
        elif images[-1].size != size:
            raise DataError(
                f"{f} is {images[-1].size[0]}x{images[-1].size[1]} but the first image is "
                f"{size[0]}x{size[1]}",
                "resize every image to one size",
            )
    mode = "RGB" if colour else "L"
    x = np.stack([np.asarray(im.convert(mode), dtype=np.uint8) for im in images])
    y = np.array([label for _, label in files], dtype=np.int64)
    return x, y, classes
