"""The official files of a data set: md5 checks and downloads (pooch), archives unpacked safely."""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from unleak.data.registry import resolve_root, spec
from unleak.errors import DataError


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
