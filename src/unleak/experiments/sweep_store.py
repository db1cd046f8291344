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

from unleak.errors import DataError
from unleak.evaluation.results import ResultRow, Results, json_ready

SCHEMA = {
    "runs": ["key", "spec", "seconds", "error", "finished"],
    "rows": ["run_key", "idx", "row"],
}


class ResultStore:
    """SQLite results, one transaction per run: a run is recorded with all its rows, or not.

    ``create=False`` opens an existing store only. A file that is not SQLite, or a database with
    other tables, is refused in one line (never overwritten).
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise DataError(f"no results store {self.path}", "point at a sweep directory")
        if self.path.exists() and not self.path.is_file():
            raise DataError(f"{self.path} is not a file", "remove it or use another --out")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=60)
            tables = {
                name: [c[1] for c in self.conn.execute(f"PRAGMA table_info({name})")]
                for (name,) in self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            }
            foreign = {t: c for t, c in tables.items() if SCHEMA.get(t) != c}
            if foreign:
                raise DataError(
                    f"{self.path} is a database of something else (tables {sorted(foreign)})",
                    "point at a results.sqlite written by unleak sweep, or use another --out",
                )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            with self.conn:
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, spec TEXT NOT NULL, "
                    "seconds REAL, error TEXT, finished TEXT)"
                )
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS rows (run_key TEXT NOT NULL, "
                    "idx INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (run_key, idx))"
                )
        except sqlite3.DatabaseError as exc:
            raise DataError(
                f"{self.path} is not a readable results store ({exc})",
                "restore it from a backup, or start the sweep in a new --out",
            ) from None

    def done(self) -> set[str]:
        """Runs finished without an error (a resumed sweep runs the failed ones again)."""
        return {k for (k,) in self.conn.execute("SELECT key FROM runs WHERE error IS NULL")}

    def save(self, run: Any, rows: list[ResultRow], seconds: float, error: str | None) -> bool:
        """Record a finished run and its rows atomically, replacing an earlier failure of it;
        False if it was already recorded without an error."""
        with self.conn:
            # a retried failure replaces its old record, rows included
            failed = "SELECT key FROM runs WHERE key = ? AND error IS NOT NULL"
            self.conn.execute(f"DELETE FROM rows WHERE run_key IN ({failed})", (run.key,))
            self.conn.execute(f"DELETE FROM runs WHERE key IN ({failed})", (run.key,))
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
        try:
            return Results(
                json.loads(r)
                for (r,) in self.conn.execute("SELECT row FROM rows ORDER BY run_key, idx")
            )
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise DataError(
                f"{self.path} holds rows that are not unleak results ({exc})",
                "restore it, or rerun the sweep in a new --out",
            ) from None

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
