"""What a run records beside its results: versions, machine, threads, when. Kept out of the
results files, which the seed alone determines (byte for byte)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata
from typing import Any

import numpy
import torch

from unleak._version import __version__


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def environment(**extra: Any) -> dict[str, Any]:
    """Versions and machine, with ``extra`` (seed, timings...) and the time it was written."""
    return {
        "unleak": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        # read from the installed metadata: importing scikit-learn costs seconds at start-up
        "scikit-learn": metadata.version("scikit-learn"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        **extra,
        "finished": now(),
    }
