"""``ResultStore``: a sweep's results in SQLite, one transaction per run.

A run is recorded with all its result rows, or not at all, so a sweep killed at any moment loses
at most the runs in flight and never records one twice. (Not the model cache: see
``model_cache.ModelCache``.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from unleak.evaluation.results import ResultRow, Results, json_ready


class ResultStore:
    """SQLite results, one transaction per run: a run is recorded with all its rows, or not."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        with self.conn:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, spec TEXT NOT NULL, "
                "seconds REAL, error TEXT, finished TEXT)"
            )
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS rows (run_key TEXT NOT NULL, idx INTEGER NOT NULL, "
                "row TEXT NOT NULL, PRIMARY KEY (run_key, idx))"
            )

    def done(self) -> set[str]:
        return {k for (k,) in self.conn.execute("SELECT key FROM runs")}

    def save(self, run: Any, rows: list[ResultRow], seconds: float, error: str | None) -> bool:
        """Record a finished run and its rows atomically; False if it was already recorded."""
        with self.conn:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO runs (key, spec, seconds, error, finished) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    run.key,
                    json.dumps(asdict(run)),
                    seconds,
                    error,
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )
            if cur.rowcount == 0:
                return False
            self.conn.executemany(
                "INSERT INTO rows (run_key, idx, row) VALUES (?, ?, ?)",
                [(run.key, i, json.dumps(json_ready(r.to_dict()))) for i, r in enumerate(rows)],
            )
        return True

    def rows(self) -> Results:
        return Results(
            json.loads(r)
            for (r,) in self.conn.execute("SELECT row FROM rows ORDER BY run_key, idx")
        )

    def runs(self) -> list[dict[str, Any]]:
        out = []
        for key, spec, seconds, error, finished in self.conn.execute("SELECT * FROM runs"):
            out.append(
                {
                    "key": key,
                    **json.loads(spec),
                    "seconds": seconds,
                    "error": error,
                    "finished": finished,
                }
            )
        return out

    def close(self) -> None:
        self.conn.close()
