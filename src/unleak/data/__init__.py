"""Data sets: a registry of names, readers of the official files, splits by class.

>>> import unleak as ul
>>> data = ul.data.load("digits")
>>> retain, forget = data.train.split_classes([3])
"""

from unleak.data.core import Dataset, Split, validate_forget_set
from unleak.data.registry import (
    DatasetSpec,
    FileCheck,
    OfficialFile,
    check,
    download,
    load,
    names,
    register,
    resolve_root,
    spec,
)

__all__ = [
    "Dataset",
    "DatasetSpec",
    "FileCheck",
    "OfficialFile",
    "Split",
    "check",
    "download",
    "load",
    "names",
    "register",
    "resolve_root",
    "spec",
    "validate_forget_set",
]
