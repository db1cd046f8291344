"""Shared fixtures: the real data in ../shared/data and a small model trained on real digits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import unleak as ul

# One thread, with or without xdist: workers side by side do not oversubscribe the cores, and a
# plain ``pytest`` trains as ``make test`` does (a float sum's order follows the thread count, and
# the suite's measured margins were taken at one thread: ft@partial left them at two).
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if path.exists():
        return path
    reason = f"needs {path} (the real data sets in ../shared/data)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}, and CI=true: CI must run with ../shared beside the clone")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder ../shared/data; fails under CI=true when missing, skips elsewhere."""
    return _shared_or_skip()


@pytest.fixture(scope="session")
def shared_file():
    return _shared_or_skip


@pytest.fixture(scope="session")
def digits() -> ul.data.Dataset:
    return ul.data.load("digits")


@pytest.fixture(scope="session")
def digits_original(digits):
    """The owner's model: the digits recipe, with amnesiac updates recorded. Read-only for tests."""
    from unleak.experiments.jobs import train_original

    torch.manual_seed(0)
    return train_original(dataset=digits, seed=0, record_updates=True)


@pytest.fixture(scope="session")
def unlearned(digits, digits_original):
    """rt and ng unlearning of class 3 from the digits original (the digits recipes)."""
    from unleak.unlearning import run_unlearning

    retain, forget = digits.train.split_classes([3])
    return {
        method: run_unlearning(
            method,
            digits_original.model,
            retain,
            forget,
            dataset="digits",
            seed=1,
            original_config=digits_original.config,
        ).model
        for method in ("rt", "ng")
    }
