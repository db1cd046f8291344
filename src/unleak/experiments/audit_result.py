"""What an audit returns and writes: :class:`AuditResult`, the run directory's layout and writer,
and the progress hooks the CLI renders. Shared by the audit of unleak's own unlearning
(:mod:`.audit`) and the audit of your own models (:mod:`.own`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from unleak._io import atomic_write_json, atomic_write_text, without_timings
from unleak.data import Dataset
from unleak.evaluation.headline import AttackTally, headline, tally
from unleak.evaluation.results import Results
from unleak.evaluation.verdict import Verdict
from unleak.experiments.audit_config import AuditConfig
from unleak.experiments.environment import environment
from unleak.report.html import write_report
from unleak.training import Callback

if TYPE_CHECKING:
    import pandas as pd  # imported where used: pandas costs a second at start-up

log = logging.getLogger(__name__)

RUN_LAYOUT = {
    "config.yaml": "the resolved configuration",
    "env.json": "versions, seed, machine, start and end time, seconds per stage",
    "checkpoints/": "original/, <method>/ and null-<kind>/ checkpoint folders (a method of "
    "your own: <file>.py-<name>/)",
    "efficacy.json": "per method: forget/retain/test accuracy, beside rt's",
    "results.jsonl": "one JSON row per attack result (unlearned and null models)",
    "results.csv": "the same rows as a table",
    "summary.json": "ASR per (method, attack, decider), chance, efficacy, false-positive rate",
    "report.html": "self-contained report: tables, score plots, prototypes, threat models",
}


class Reporter:
    """Progress hooks the CLI renders; the library default only logs."""

    def stage(self, name: str, total: int | None = None) -> None:
        log.info("stage %s", name)

    def advance(self, n: int = 1) -> None: ...

    def callbacks(self) -> Sequence[Callback]:
        return ()


@dataclass
class AuditResult:
    """Rows of every attack result, efficacy per method, and where everything was written."""

    config: AuditConfig
    forget: tuple[int, ...]
    rows: Results
    efficacy: dict[str, dict[str, Any]]
    run_dir: Path | None
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    dataset: str = ""
    model: str = ""
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # your own models: the verdict
    class_names: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per attack result, as a pandas DataFrame."""
        return self.rows.to_frame()

    def summary(self) -> pd.DataFrame:
        """ASR per (method, attack, decider) beside chance, efficacy and false-positive rate."""
        return self.rows.summary()

    def tallies(self) -> list[AttackTally]:
        """Per attack: exact-set hits over the unlearned models, false alarms over the nulls."""
        return tally(self.rows)

    def headline(self) -> str:
        """One sentence of what was found (per method and overall, with the nulls' false
        alarms); audits of your own models lead with their verdicts instead."""
        return headline(self.rows, self.forget, self.class_names)


class Laps:
    """Seconds per named stage of a run (``env.json``)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self.clock, 3)
        self.clock = now


def write_run(result: AuditResult, run_dir: Path, data: Dataset, lap: Laps, started: str) -> None:
    """Write the run directory's files (the checkpoints are written as the models are made)."""
    config = result.config
    atomic_write_text(
        run_dir / "config.yaml",
        yaml.safe_dump(
            {
                **config.model_dump(mode="json"),
                "forget": list(result.forget),
                "model": result.model,
            },
            sort_keys=False,
        ),
    )
    result.rows.save(run_dir / "results.jsonl")
    atomic_write_json(run_dir / "efficacy.json", without_timings(result.efficacy))
    summary = result.summary().drop(columns=["seconds"], errors="ignore")
    atomic_write_json(
        run_dir / "summary.json",
        {
            "forget": list(result.forget),
            "dataset": data.name,
            "model": result.model,
            "headline": None if result.verdicts else result.headline(),
            "verdict": {path: v.to_dict() for path, v in result.verdicts.items()},
            "attacks": [t.to_dict() for t in result.tallies()],
            "rows": json.loads(summary.to_json(orient="records")) if not summary.empty else [],
        },
    )
    write_report(result, run_dir / "report.html", data=data)
    lap("report")
    atomic_write_json(
        run_dir / "env.json", environment(seed=config.seed, started=started, seconds=lap.timings)
    )


class no_dir:
    """``with`` stand-in for :func:`staged_dir` when nothing is written."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
