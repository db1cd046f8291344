"""Atomic writes: a reader (or a run cut short by Ctrl-C) sees a whole file or none."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from unleak.errors import ConfigError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


TIMINGS = ("seconds", "unlearn_seconds", "train_seconds", "created", "started", "finished")


def without_timings(obj: Any) -> Any:
    """``obj`` with every timing and timestamp key removed, recursively: results files hold what
    the seed determines (byte for byte); timings go to env.json / run.json beside them."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMINGS}
    if isinstance(obj, list | tuple):
        return [without_timings(v) for v in obj]
    return obj


def check_output(path: str | os.PathLike[str], kind: Literal["dir", "file"], flag: str) -> Path:
    """Refuse, before any work, an output that cannot be written: a folder where a file is
    wanted (or the reverse), or a place this process may not write to."""
    p = Path(path)
    if kind == "dir" and p.exists() and not p.is_dir():
        raise ConfigError(f"{flag} {p} is a file", f"give {flag} a folder (new or existing)")
    if kind == "file" and p.is_dir():
        raise ConfigError(f"{flag} {p} is a folder", f"give {flag} a file name")
    # probe the nearest folder that exists: creating the missing ones now would leave them
    # behind when a later check refuses the run
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".unleak-write-check.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {flag} {p} ({exc.strerror or exc})",
            "choose a folder you can write to (and that has free space)",
        ) from None
    return p


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a scratch folder beside ``out``; on success its files move into ``out``.

    If the block raises (bad input, Ctrl-C), the scratch folder is removed and ``out`` is left as
    it was: a new ``out`` is never created half-written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {out} is a file", "write to a folder (new or existing)")
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield scratch
        if not out.exists():
            os.replace(scratch, out)
            return
        for item in sorted(scratch.iterdir()):
            target = out / item.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
