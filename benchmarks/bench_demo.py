"""``make demo`` from a fresh clone, and an MNIST audit of one class with every method and attack.

python -m benchmarks.run demo          (benchmarks/results/demo.json)
python -m benchmarks.run audit_mnist   (benchmarks/results/audit_mnist.json)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DATA_ROOT, ROOT, save


def _timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def main_demo() -> None:
    """Fresh clone -> make demo (install + audit), then the audit alone on the warm install."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "unleak"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        total, out = _timed(["make", "demo"], clone)
        shutil.rmtree(clone / "runs", ignore_errors=True)
        audit, _ = _timed([str(clone / ".venv/bin/unleak"), "audit", "--out", "runs/demo"], clone)
        env = json.loads((clone / "runs/demo/env.json").read_text())
    save(
        "demo",
        {
            "command": "git clone ... && make demo",
            "make_demo_seconds": round(total, 1),
            "audit_seconds": round(audit, 1),
            "audit_stage_seconds": env["seconds"],
            "audit_within_60_s": audit <= 60,
            "table": out.strip().splitlines()[-24:],
        },
    )


def main_audit_mnist() -> None:
    """``unleak audit --dataset mnist --forget 3``: every method, attack and baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "mnist"
        cmd = [
            str(ROOT / ".venv/bin/unleak"),
            "audit",
            "--dataset",
            "mnist",
            "--forget",
            "3",
            "--data-root",
            str(DATA_ROOT),
            "--out",
            str(run),
        ]
        seconds, out = _timed(cmd, ROOT)
        env = json.loads((run / "env.json").read_text())
        rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    hits: dict[str, Any] = {}
    for r in rows:
        if r.get("attack") and r["kind"] == "unlearned":
            hits.setdefault(r["label"], {})[r["method"]] = r["hit"]
    save(
        "audit_mnist",
        {
            "command": "unleak audit --dataset mnist --forget 3 --data-root ../shared/data",
            "seconds": round(seconds, 1),
            "within_10_minutes": seconds <= 600,
            "stage_seconds": env["seconds"],
            "hits": hits,
            "table": out.strip().splitlines()[-24:],
        },
    )


def main() -> None:
    main_demo()
    main_audit_mnist()
