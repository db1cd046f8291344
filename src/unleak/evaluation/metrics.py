"""Attack success rates, their intervals, chance, and the summary tables built from result rows.

A result row is a plain dict (one per data set, model, method, forget set, seed, attack, decider).
Rows on *null* models (nothing forgotten, ``forget == []``) give the false-positive rate: the share
of null models on which the attack names any class at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (well-behaved at 0 and 1 and for small n)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def chance(num_candidates: int, num_forgotten: int) -> float:
    """Probability that a uniform guess of ``num_forgotten`` classes among ``num_candidates`` is
    exactly right: 1/K for one class of K; for param-dot, K counts only the classes it holds no data
    of."""
    if num_forgotten < 1 or num_forgotten > num_candidates:
        return math.nan
    return 1.0 / math.comb(num_candidates, num_forgotten)


GROUP = [
    "dataset",
    "model",
    "defence",
    "method",
    "label",
    "attack",
    "criterion",
    "decider",
    "n_forget",
]


def summarize(rows: Iterable[dict[str, Any]], by: Sequence[str] = GROUP) -> pd.DataFrame:
    """ASR with its 95% interval and n, beside chance, efficacy and the false-positive rate.

    The false-positive rate of a (data set, model, defence, attack, decider) comes from the null
    rows of the same group (null models with the same defence applied), with its 95% Wilson
    interval and n, and is shown on every line of that group.
    """
    import pandas as pd  # imported here: pandas costs a second at start-up

    df = pd.DataFrame(list(rows))
    if df.empty:
        return df
    if "error" in df:
        df = df[df["error"].isna()] if df["error"].notna().any() else df
    by = [b for b in by if b in df.columns]
    null = df[df["kind"] == "null"]
    real = df[df["kind"] == "unlearned"]
    fp_keys = [b for b in by if b not in ("method", "n_forget")]
    fpr = (
        null.groupby(fp_keys, dropna=False)
        .agg(fpr=("predicted_any", "mean"), fpr_n=("predicted_any", "size"))
        .reset_index()
        if not null.empty
        else pd.DataFrame(columns=[*fp_keys, "fpr", "fpr_n"])
    )
    fp_bounds = [
        wilson(round(f * n), int(n)) for f, n in zip(fpr["fpr"], fpr["fpr_n"], strict=True)
    ]
    fpr["fpr_lo"] = [b[0] for b in fp_bounds]
    fpr["fpr_hi"] = [b[1] for b in fp_bounds]
    if real.empty:
        return fpr
    agg = (
        real.groupby(by, dropna=False)
        .agg(
            n=("hit", "size"),
            hits=("hit", "sum"),
            chance=("chance", "mean"),
            forget_acc=("forget_acc", "mean"),
            retain_acc=("retain_acc", "mean"),
            rt_forget_acc=("rt_forget_acc", "mean"),
            seconds=("seconds", "mean"),
            queries=("queries", "mean"),
        )
        .reset_index()
    )
    agg["asr"] = agg["hits"] / agg["n"]
    bounds = [wilson(int(h), int(n)) for h, n in zip(agg["hits"], agg["n"], strict=True)]
    agg["asr_lo"] = [b[0] for b in bounds]
    agg["asr_hi"] = [b[1] for b in bounds]
    out = agg.merge(fpr, on=fp_keys, how="left")
    cols = [
        *by,
        "asr",
        "asr_lo",
        "asr_hi",
        "n",
        "chance",
        "fpr",
        "fpr_lo",
        "fpr_hi",
        "fpr_n",
        "forget_acc",
        "retain_acc",
        "rt_forget_acc",
        "seconds",
        "queries",
    ]
    return out[[c for c in cols if c in out.columns]]
