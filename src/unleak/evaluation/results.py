"""One typed result row and one results object, shared by ``attack``, ``audit``, ``sweep`` and
``report``.

A :class:`ResultRow` is one decision: which model (data set, architecture, method or null kind,
forget set, seed), which attack read how (decider, screening criterion, parameters), what it
predicted, and beside it what the reader needs to judge that: chance, queries, access, the
calibration source and the attacked model's efficacy beside ``rt``'s. :class:`Results` holds rows;
it becomes a DataFrame (``to_frame``), a summary (ASR beside chance, efficacy and FPR), and files
(``save``/``load``: JSON lines and CSV).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unleak._io import atomic_write_text, without_timings
from unleak.errors import DataError
from unleak.evaluation.metrics import GROUP, summarize

if TYPE_CHECKING:
    import pandas as pd  # imported where used: pandas costs a second at start-up

NAN = math.nan


def label_of(
    attack: str,
    decider: str,
    criterion: str | None = None,
    params: dict[str, Any] | None = None,
) -> str:
    """``param-diff/kmeans``; with a screening criterion ``wb-inversion[entropy]/threshold``;
    parameter overrides follow an ``@``: ``bb-genetic[threshold]/threshold@query_budget=1000``."""
    label = f"{attack}[{criterion}]/{decider}" if criterion else f"{attack}/{decider}"
    if params:
        label += "@" + ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return label


@dataclass
class ResultRow:
    """One attack decision on one model, with everything needed to read it honestly."""

    # the model attacked
    dataset: str
    model: str
    method: str  # unlearning method, or the null kind for null models
    kind: str  # "unlearned" or "null"
    forget: list[int]  # the truth; [] on a null model
    seed: int
    defence: str = ""  # a defence applied after unlearning (weights or outputs), or ""
    # the attack
    attack: str | None = None  # None on a row that records a failed unlearning stage
    decider: str | None = None
    criterion: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # the decision
    predicted: list[int] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    features: dict[str, list[float]] = field(default_factory=dict)  # the evidence, per class
    chance: float = NAN
    queries: int = 0
    seconds: float = NAN
    calibration: str = ""
    access: str = ""
    uses_original: bool = False
    # efficacy of the attacked model, beside rt's on the same forget set and the original's
    forget_acc: float = NAN
    retain_acc: float = NAN
    test_acc: float = NAN
    rt_forget_acc: float = NAN
    rt_retain_acc: float = NAN
    original_retain_acc: float = NAN
    original_forget_acc: float = NAN
    unlearn_seconds: float = NAN
    error: str | None = None
    # where it came from (sweeps key every row by its run)
    run_key: str = ""
    query_budget: int | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label and self.attack is not None:
            self.label = label_of(self.attack, self.decider or "", self.criterion, self.params)

    @property
    def n_forget(self) -> int:
        return len(self.forget)

    @property
    def hit(self) -> bool:
        """Exactly the forgotten set was named (never on an error row)."""
        return (
            self.error is None
            and self.attack is not None
            and set(self.predicted) == set(self.forget)
        )

    @property
    def predicted_any(self) -> bool:
        return bool(self.predicted)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict with the derived columns (``n_forget``, ``hit``, ``predicted_any``)."""
        d = dataclasses.asdict(self)
        d["n_forget"] = self.n_forget
        d["hit"] = self.hit
        d["predicted_any"] = self.predicted_any
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultRow:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: (NAN if v is None and _is_float(k) else v) for k, v in d.items() if k in known}
        return cls(**values)


_FLOATS = {f.name for f in dataclasses.fields(ResultRow) if f.type in ("float", float)}


def _is_float(name: str) -> bool:
    return name in _FLOATS


def _row_dict(row: ResultRow, timings: bool) -> dict[str, Any]:
    d = row.to_dict()
    return d if timings else without_timings(d)


def _json_default(value: Any) -> Any:
    return str(value)


def json_ready(value: Any) -> Any:
    """JSON-ready: NaN becomes null (JSON has no NaN)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


class Results(Sequence[ResultRow]):
    """Rows of attack results, in order; becomes a DataFrame, a summary and files."""

    def __init__(self, rows: Iterable[ResultRow | dict[str, Any]] = ()) -> None:
        self.rows: list[ResultRow] = [
            r if isinstance(r, ResultRow) else ResultRow.from_dict(r) for r in rows
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        return self.rows[i]

    def __iter__(self) -> Iterator[ResultRow]:
        return iter(self.rows)

    def __add__(self, other: Iterable[ResultRow]) -> Results:
        return Results([*self.rows, *other])

    def append(self, row: ResultRow) -> None:
        self.rows.append(row)

    def extend(self, rows: Iterable[ResultRow]) -> None:
        self.rows.extend(rows)

    def dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]

    def to_frame(self) -> pd.DataFrame:
        """One row per result, one column per field (plus ``n_forget``, ``hit``,
        ``predicted_any``)."""
        import pandas as pd

        return pd.DataFrame(self.dicts())

    def summary(self, by: Sequence[str] | None = None) -> pd.DataFrame:
        """ASR with its 95% interval and n, beside chance, efficacy and the false-positive rate."""
        return summarize(self.dicts(), by or GROUP)

    # -- files -----------------------------------------------------------------------------------
    def to_jsonl(self, timings: bool = True) -> str:
        return "".join(
            json.dumps(json_ready(_row_dict(r, timings)), default=_json_default) + "\n"
            for r in self.rows
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``path`` (JSON lines) and the same rows as CSV beside it (``.csv``), atomically.

        Timings are left out: the same seed writes the same bytes (they are in env.json)."""
        import pandas as pd

        path = Path(path)
        atomic_write_text(path, self.to_jsonl(timings=False))
        frame = pd.DataFrame([_row_dict(r, False) for r in self.rows])
        atomic_write_text(path.with_suffix(".csv"), frame.to_csv(index=False))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Results:
        """Read rows written by :meth:`save` (JSON lines)."""
        path = Path(path)
        rows = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise DataError(f"no results file {path}", "point at a results.jsonl") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path} is not readable text ({exc})", "restore the file") from exc
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if not isinstance(d, dict):
                    raise ValueError("not an object")
                rows.append(ResultRow.from_dict(d))
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"{path}, line {n}, is not a result row ({exc})", "restore the file"
                ) from exc
        return cls(rows)
