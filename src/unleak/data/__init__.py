"""Data sets: a registry of names, readers of the official files, splits by class.

>>> import unleak as ul
>>> data = ul.data.load("digits")
>>> retain, forget = data.train.split_classes([3])
"""

from unleak.data import builtin  # noqa: F401 - registers the built-in data sets
from unleak.data.core import (
    Dataset,
    Split,
    parse_class_list,
    parse_classes,
    validate_forget_set,
)
from unleak.data.files import FileCheck, check, download
from unleak.data.memory import as_dataset, from_torch
from unleak.data.registry import (
    DatasetSpec,
    OfficialFile,
    load,
    names,
    register,
    resolve_root,
    spec,
    task_of,
)

__all__ = [
    "Dataset",
    "DatasetSpec",
    "FileCheck",
    "OfficialFile",
    "Split",
    "as_dataset",
    "check",
    "download",
    "from_torch",
    "load",
    "names",
    "parse_class_list",
    "parse_classes",
    "register",
    "resolve_root",
    "spec",
    "task_of",
    "validate_forget_set",
]
