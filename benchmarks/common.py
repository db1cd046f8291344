"""Shared helpers of the benchmarks: where results go, machine description, the data root."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
DATA_ROOT = Path(os.environ.get("UNLEAK_DATA", ROOT.parent / "shared" / "data"))


def machine() -> dict[str, Any]:
    import torch

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "commit": _git("rev-parse", "--short", "HEAD"),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


FINDINGS_MARK = "<!-- findings: copied from docs/findings.md -->"


# where the benchmarks read the data sets on this machine, as a reader of the docs writes it
DATA_SPELLINGS = ("../shared/data", str(DATA_ROOT))


def public(text: str) -> str:
    """``text`` with this machine's data folder written ``$UNLEAK_DATA`` (the variable every
    command reads): the docs describe commands a reader runs on their own data folder."""
    for spelling in DATA_SPELLINGS:
        text = text.replace(spelling, "$UNLEAK_DATA")
    return text


def with_findings(text: str) -> str:
    """`text` (docs/results.md) ending with the current docs/findings.md, made :func:`public`.

    The reading of the tables is written by hand in findings.md; results.md carries a copy after a
    marker so that every writer of results.md refreshes it instead of leaving a stale one."""
    head = text.partition(FINDINGS_MARK)[0].rstrip("\n")
    notes = DOCS / "findings.md"
    if not notes.is_file():
        return public(head + "\n")
    return public(f"{head}\n\n{FINDINGS_MARK}\n{notes.read_text()}")
