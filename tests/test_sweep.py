"""Sweeps: expansion, the results store, Ray = local, cached models.

SIGKILL and resume: tests/test_determinism.py."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from unleak.errors import ConfigError
from unleak.experiments.sweep import (
    SweepConfig,
    expand,
    load_results,
    load_sweep_config,
    run_sweep,
)

TINY = {
    "name": "tiny",
    "datasets": ["digits"],
    "methods": ["ft", "ng"],
    "forget_sizes": [1, 2],
    "sets_per_size": 2,
    "seeds": [0],
    "attacks": ["param-diff/kmeans", "probe-reach/kmeans"],
    "baselines": ["chance"],
    "null_models": ["original"],
    "train": {"digits": {"epochs": 4}},
    "unlearn": {"ft": {"epochs": 3}},
}


def _decisions(out: Path) -> list[tuple]:
    return sorted((r.run_key, r.label, tuple(r.predicted), r.hit) for r in load_results(out))


def test_expansion_is_the_grid_and_keys_are_stable():
    cfg = SweepConfig.model_validate({**TINY, "seeds": [0, 1]})
    runs = expand(cfg)
    assert len(runs) == 2 * (1 + (2 + 2) * 2)  # seeds x (nulls + forget sets x methods)
    assert len({r.key for r in runs}) == len(runs)
    assert [r.key for r in expand(cfg)] == [r.key for r in runs]
    sizes = {len(r.forget) for r in runs if r.kind == "unlearned"}
    assert sizes == {1, 2}


def test_bad_sweep_configs(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, "methds": ["ft"]}))
    with pytest.raises(ConfigError, match="methds"):
        load_sweep_config(path)
    path.write_text(yaml.safe_dump({**TINY, "methods": ["ft", "sisa"]}))
    with pytest.raises(ConfigError, match="unknown method"):
        load_sweep_config(path)
    path.write_text(yaml.safe_dump({**TINY, "forget_sizes": [10]}))
    with pytest.raises(Exception, match="all 10 classes"):
        expand(load_sweep_config(path))


@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory):
    """The tiny sweep run straight through, and its shared model cache."""
    root = tmp_path_factory.mktemp("sweep")
    cfg = SweepConfig.model_validate(TINY)
    outcome = run_sweep(cfg, root / "ref", cache_root=root / "cache")
    assert outcome.finished == outcome.total == 9 and outcome.failed == 0
    return root, cfg


def test_results_and_cache_reuse(reference_sweep, tmp_path):
    root, cfg = reference_sweep
    rows = load_results(root / "ref")
    assert {r.method for r in rows} == {"ft", "ng", "original"}
    from unleak.experiments import model_cache

    trained = []
    original = model_cache.ModelCache.original

    def spy(self, *a, **k):
        out = original(self, *a, **k)
        trained.append(out.trained)
        return out

    model_cache.ModelCache.original = spy
    try:
        outcome = run_sweep(cfg, tmp_path / "again", cache_root=root / "cache")
    finally:
        model_cache.ModelCache.original = original
    assert outcome.finished == 9 and trained and not any(trained)  # every original from the cache
    assert _decisions(tmp_path / "again") == _decisions(root / "ref")
    with pytest.raises(ConfigError, match="already holds"):
        run_sweep(cfg, tmp_path / "again", cache_root=root / "cache")


def _wait_for_runs(proc: subprocess.Popen, db: Path, n: int, timeout: float = 300) -> None:
    """Wait until the sweep in ``proc`` has recorded ``n`` runs in ``db`` (or ended)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if db.exists() and _count(db) >= n:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.2)


def _count(db: Path) -> int:
    return sqlite3.connect(str(db)).execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_killed_worker_gives_one_line_and_keeps_finished_runs(tmp_path):
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "worker-killed"
    env = {**os.environ, "UNLEAK_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "unleak.cli", "sweep", str(config_path), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    db = out / "results.sqlite"
    _wait_for_runs(proc, db, 1)
    workers = [
        k for k in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()
    ]
    assert proc.poll() is None and workers, "the sweep ended before a worker could be killed"
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    errors = [ln for ln in stderr.decode().splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in stderr.decode()
    assert len(errors) == 1 and "worker process died" in errors[0] and "--resume" in errors[0]
    assert _count(db) >= 1


def test_ray_executor_matches_local(reference_sweep, tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    root, cfg = reference_sweep
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        # the reference's model cache: what is under test is the executor, not training again
        outcome = run_sweep(cfg, tmp_path / "ray", executor="ray", cache_root=root / "cache")
    finally:
        ray.shutdown()
    assert outcome.finished == 9 and outcome.failed == 0
    assert _decisions(tmp_path / "ray") == _decisions(root / "ref")


def test_report_writes_tables_and_figures(reference_sweep):
    from unleak.experiments.sweep import report

    root, _ = reference_sweep
    written = report(root / "ref")
    text = written["markdown"].read_text()
    assert "ASR % [95% CI]" in text and "param-diff/kmeans" in text and "FPR %" in text
    assert written["csv"].read_text().startswith("dataset,")
    assert any(k.startswith("asr_vs_forgotten") for k in written)


def test_resume_runs_failed_runs_again(reference_sweep, tmp_path):
    """A failed run (e.g. a diverged null model) is retried by --resume and replaced on success;
    a successful run is never replaced."""
    from unleak.experiments.sweep_store import ResultStore

    root, cfg = reference_sweep
    run = expand(cfg)[0]
    mine = [r for r in load_results(root / "ref") if r.run_key == run.key]
    assert mine
    store = ResultStore(tmp_path / "results.sqlite")
    try:
        assert store.save(run, [], 1.0, "DivergenceError: loss became nan")
        assert run.key not in store.done()
        assert store.save(run, mine, 2.0, None)
        assert run.key in store.done()
        assert not store.save(run, [], 3.0, "a later failure")
        assert len(list(store.rows())) == len(mine)
        assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    finally:
        store.close()
