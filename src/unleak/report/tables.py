"""Markdown and CSV tables and figures from result rows (``unleak report SWEEP_DIR``).

This layer renders results only; reading them from a sweep's store is the sweep's job
(``unleak.experiments.sweep.report``)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from unleak._io import atomic_write_bytes, atomic_write_text
from unleak.evaluation.metrics import summarize, wilson
from unleak.evaluation.results import Results
from unleak.report import plots


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def markdown_table(df: pd.DataFrame, columns: list[tuple[str, str]]) -> str:
    """``columns``: (column, header). Values in [0, 1] columns named like rates print as percent."""
    heads = [h for _, h in columns]
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    for rec in df.to_dict("records"):
        cells = []
        for col, _ in columns:
            v = rec.get(col)
            if col == "asr":
                cells.append(f"{_pct(v)} [{_pct(rec.get('asr_lo'))}, {_pct(rec.get('asr_hi'))}]")
            elif col in ("chance", "fpr", "forget_acc", "retain_acc", "rt_forget_acc"):
                cells.append(_pct(v))
            elif isinstance(v, float):
                cells.append("-" if math.isnan(v) else f"{v:.2f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


SUMMARY_COLUMNS = [
    ("dataset", "data set"),
    ("method", "method"),
    ("label", "attack / decider"),
    ("n_forget", "|F|"),
    ("asr", "ASR % [95% CI]"),
    ("n", "n"),
    ("chance", "chance %"),
    ("fpr", "FPR %"),
    ("forget_acc", "forget acc %"),
    ("retain_acc", "retain acc %"),
    ("rt_forget_acc", "rt forget acc %"),
    ("seconds", "s / attack"),
]


def sweep_tables(results: Results) -> dict[str, pd.DataFrame]:
    """Per-cell summary, and ASR averaged over methods per (data set, attack, |F|)."""
    rows = results.dicts()
    summary = summarize(rows)
    if summary.empty:
        return {"summary": summary}
    real = pd.DataFrame(rows)
    real = real[(real["kind"] == "unlearned") & real["error"].isna()]
    by_size = (
        real.groupby(["dataset", "label", "n_forget"], dropna=False)["hit"]
        .agg(["mean", "size"])
        .reset_index()
        .rename(columns={"mean": "asr", "size": "n"})
    )
    return {"summary": summary, "by_size": by_size}


def sweep_report(results: Results, out: str | os.PathLike[str], title: str) -> dict[str, Path]:
    """Write ``out/results.md``, ``out/summary.csv`` and figures for ``results``."""
    rep = Path(out)
    rows = results.dicts()
    tables = sweep_tables(results)
    summary = tables["summary"]
    written: dict[str, Path] = {}
    written["csv"] = atomic_write_text(rep / "summary.csv", summary.to_csv(index=False))
    parts = [
        f"# Sweep results: {title}\n",
        f"{len(rows)} result rows. ASR with its 95% Wilson "
        "interval and n, beside chance, the false-positive rate on null models of the same data "
        "set and attack, and the efficacy of the attacked models (test accuracy).\n",
    ]
    if not summary.empty:
        parts.append(markdown_table(summary, SUMMARY_COLUMNS))
        by_size = tables["by_size"]
        for dataset in sorted(by_size["dataset"].unique()):
            sub = by_size[by_size["dataset"] == dataset]
            series = {
                label: (list(g["n_forget"]), list(g["asr"]))
                for label, g in sub.groupby("label")
                if "@" not in label and not label.startswith(("chance", "oracle"))
            }
            if series:
                png = plots.line_plot(
                    f"{dataset}: ASR vs number of forgotten classes",
                    "forgotten classes",
                    "ASR",
                    series,
                )
                written[f"asr_vs_forgotten_{dataset}"] = atomic_write_bytes(
                    rep / f"asr_vs_forgotten_{dataset}.png", png
                )
                parts.append(
                    f"\n![ASR vs forgotten classes, {dataset}](asr_vs_forgotten_{dataset}.png)\n"
                )
        curve = query_curve(rows)
        if not curve.empty:
            series = {
                f"{d} |F|={n}": (list(g["queries"]), list(g["asr"]))
                for (d, n), g in curve.groupby(["dataset", "n_forget"])
            }
            png = plots.line_plot("bb-genetic: ASR vs queries", "queries per model", "ASR", series)
            written["asr_vs_queries"] = atomic_write_bytes(rep / "asr_vs_queries.png", png)
            parts.append("\n## Black-box ASR against the query budget\n")
            parts.append(
                markdown_table(
                    curve,
                    [
                        ("dataset", "data set"),
                        ("n_forget", "|F|"),
                        ("queries", "queries"),
                        ("asr", "ASR %"),
                        ("n", "n"),
                    ],
                )
            )
            parts.append("\n![ASR vs queries](asr_vs_queries.png)\n")
    written["markdown"] = atomic_write_text(rep / "results.md", "\n".join(parts))
    return written


def query_curve(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """bb-genetic (threshold screening) ASR per data set, |F| and query budget, over all methods."""
    df = pd.DataFrame(rows)
    if df.empty or "attack" not in df:
        return pd.DataFrame()
    df = df[
        (df["attack"] == "bb-genetic")
        & (df["kind"] == "unlearned")
        & (df["decider"] == "threshold")
    ]
    df = df[df["criterion"].fillna("threshold") == "threshold"]
    if df.empty:
        return pd.DataFrame()
    out = df.groupby(["dataset", "n_forget", "queries"])["hit"].agg(["mean", "size"]).reset_index()
    out = out.rename(columns={"mean": "asr", "size": "n"})
    bounds = [wilson(round(a * n), int(n)) for a, n in zip(out["asr"], out["n"], strict=True)]
    out["asr_lo"], out["asr_hi"] = [b[0] for b in bounds], [b[1] for b in bounds]
    return out
