"""A self-contained HTML report of an audit: every figure inline, no network needed to view it."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from unleak import attacks as atk
from unleak._io import atomic_write_text
from unleak.evaluation.results import ResultRow
from unleak.report import plots

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.5rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
.hit{background:#f8d7da} .miss{background:#d4edda} .err{background:#fff3cd}
.note{color:#555;font-size:.85rem} img{max-width:100%}
.scores svg{margin:0 .5rem .5rem 0;border:1px solid #eee} h3{font-size:.95rem;margin:.8rem 0 .2rem}
"""

INTRO = (
    "An attack succeeds when its predicted set is exactly the forgotten set; on null models "
    "(nothing forgotten) any prediction is a false positive."
)
TALLY_NOTE = (
    "One audit attacks each model once, so each attack is tallied over the models it attacked: "
    "how many unlearned models it named exactly the forgotten set on (chance: a uniform guess of "
    "that many classes), and how many null models it named any class on. The model x attack "
    "grid above holds every answer; a sweep gives ASR over many seeds and forget sets."
)
LEGEND = (
    "Red: the attack named exactly the forgotten classes (the label leaked) or, on a null model, "
    "named a class that was never forgotten (a false positive). Green: no leak, or rightly none."
)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _img(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _table(
    headers: list[str], rows: list[list[str]], classes: list[list[str]] | None = None
) -> str:
    head = "".join(
        f'<th class="{"l" if i == 0 else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            cls = (classes[r][i] if classes else "") + (" l" if i == 0 else "")
            cells.append(f'<td class="{cls.strip()}">{cell}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def svg_bars(
    name: str,
    scores: list[float | None],
    forgotten: list[int],
    predicted: list[int],
    width: int = 180,
    height: int = 90,
) -> str:
    """A small inline SVG bar chart of per-class scores (forgotten red, predicted outlined)."""
    vals = [0.0 if s is None or s != s else float(s) for s in scores]
    lo, hi = min(0.0, *vals), max(0.0, *vals)
    span = (hi - lo) or 1.0
    k = max(1, len(vals))
    bw = (width - 10) / k
    zero = 15 + (height - 30) * hi / span
    bars = []
    for c, v in enumerate(vals):
        top = 15 + (height - 30) * (hi - max(v, 0)) / span
        h = abs(v) * (height - 30) / span
        colour = "#c0392b" if c in forgotten else "#7f8c8d"
        stroke = ' stroke="#000" stroke-width="2"' if c in predicted else ""
        x = 5 + c * bw
        bars.append(
            f'<rect x="{x + 1:.1f}" y="{top:.1f}" width="{bw - 2:.1f}" height="{max(h, 0.5):.1f}" '
            f'fill="{colour}"{stroke}><title>class {c}: {v:.3g}</title></rect>'
        )
        bars.append(
            f'<text x="{x + bw / 2:.1f}" y="{height - 2}" font-size="8" '
            f'text-anchor="middle">{c}</text>'
        )
    axis = f'<line x1="5" x2="{width - 5}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#999"/>'
    title = f'<text x="5" y="10" font-size="9">{html.escape(name)}</text>'
    return (
        f'<svg width="{width}" height="{height}" role="img" '
        f'aria-label="scores {html.escape(name)}">{title}{axis}{"".join(bars)}</svg>'
    )


def _cell(r: ResultRow) -> tuple[str, str]:
    """Text and CSS class of one model x attack cell."""
    if r.error:
        return "error", "err"
    pred = "{" + ",".join(map(str, r.predicted)) + "}"
    if r.kind == "null":
        return (f"{pred} false +", "hit") if r.predicted else (f"{pred} ok", "miss")
    return (f"{pred} hit", "hit") if r.hit else (f"{pred} miss", "miss")


def _name(kind: str, method: str, defence: str = "") -> str:
    tag = f"{method}+{defence}" if defence else method
    return f"{tag} (null)" if kind == "null" else tag


def headline_section(result: Any) -> list[str]:
    """The one sentence of what an audit of unleak's own unlearning found, first on the page."""
    if getattr(result, "verdicts", None) or not result.forget:
        return []
    return [f'<p id="headline"><b>{html.escape(result.headline())}</b></p>']


def verdict_section(result: Any, names: Any) -> list[str]:
    """The verdict of an audit of your own models, first on the page."""
    verdicts = getattr(result, "verdicts", None) or {}
    if not verdicts:
        return []
    out = ["<h2 id='verdict'>Verdict</h2>"]
    for path, v in verdicts.items():
        css = "hit" if v.removed else ("err" if v.damaged or not v.measured else "miss")
        out.append(
            f'<p class="{css}"><b>{html.escape(path)}</b>: {html.escape(v.sentence(list(names)))}'
            "</p>"
        )
        score = bool(v.probability)  # a stacked rule: its removal score per class
        rows = [
            [
                html.escape(f"{c} ({names[c]})" if c < len(names) else str(c)),
                status,
                *([f"{v.probability[c]:.2f}"] if score else []),
                html.escape(", ".join(v.votes.get(c, [])) or "-"),
            ]
            for c, status in sorted(v.status.items())
            if status != "intact" or c in v.votes
        ]
        if rows:
            heads = ["class", "verdict", "removal score", "named by"] if score else []
            out.append(_table(heads or ["class", "verdict", "voted for by"], rows))
        voters = [
            [
                html.escape(x.attack),
                f"{x.false_alarms}/{x.nulls}",
                "-" if x.nulls == 0 else f"{100 * x.fpr_hi:.0f}%",
                "yes" if x.votes else "no: it flagged too many null models",
            ]
            for x in v.voters
        ]
        if voters:
            heads = ["voter", "false alarms on your nulls", "FPR 95% upper", "heard"]
            out.append(_table(heads, voters))
        answers = [
            [html.escape(label), html.escape(", ".join(map(str, named)) or "none")]
            for label, named in v.answers.items()
        ]
        if answers:
            out.append(_table(["attack", "named"], answers))
        for label, error in v.failed.items():
            out.append(
                f'<p class="note">{html.escape(label)} did not run: {html.escape(error)}</p>'
            )
    return out


def render(result: Any, data: Any = None) -> str:
    """The report of an :class:`~unleak.experiments.audit.AuditResult` as one HTML string."""
    cfg = result.config
    rows = [r for r in result.rows if r.attack]
    names = data.class_names if data is not None else [str(i) for i in range(100)]
    arch = result.model
    forgot = ", ".join(f"{c} ({html.escape(names[c])})" for c in result.forget) or "not given"
    parts = [
        f"<h1>unleak audit: {html.escape(cfg.dataset)}</h1>",
        *headline_section(result),
        *verdict_section(result, names),
        f'<p id="setup">Data set <b>{html.escape(cfg.dataset)}</b>, model <b>{html.escape(arch)}'
        f"</b>, forgotten classes <b>{forgot}</b>, seed {cfg.seed}. {INTRO}</p>",
    ]
    eff_rows = []
    for method, e in result.efficacy.items():
        if "error" in e:
            failed = f'<span class="err">failed: {html.escape(e["error"])}</span>'
            eff_rows.append([html.escape(method), failed, "", "", "", "", ""])
            continue
        ref = e.get("reference") or {}
        eff_rows.append(
            [
                html.escape(method),
                _fmt(e.get("forget_acc")),
                _fmt(e.get("retain_acc")),
                _fmt(e.get("test_acc")),
                _fmt(ref.get("forget_acc")),
                _fmt(ref.get("retain_acc")),
                _fmt(e.get("seconds"), 1),
            ]
        )
    parts.append("<h2 id='efficacy'>Unlearning efficacy (test accuracy)</h2>")
    heads = [
        "method",
        "forget acc",
        "retain acc",
        "test acc",
        "rt forget acc",
        "rt retain acc",
        "seconds",
    ]
    parts.append(_table(heads, eff_rows))

    labels = list(dict.fromkeys(r.label for r in rows))
    models_ = list(dict.fromkeys((r.kind, r.method, r.defence) for r in rows))
    index = {(r.kind, r.method, r.defence, r.label): r for r in rows}
    grid, classes = [], []
    for kind, method, defence in models_:
        line, cls = [html.escape(_name(kind, method, defence))], [""]
        for label in labels:
            r = index.get((kind, method, defence, label))
            text, css = _cell(r) if r else ("", "")
            line.append(text)
            cls.append(css)
        grid.append(line)
        classes.append(cls)
    parts.append("<h2 id='asr'>Attack results: predicted forgotten set per model</h2>")
    parts.append(f'<p class="note">{LEGEND}</p>')
    parts.append(_table(["model", *labels], grid, classes))

    tallies = result.tallies()
    if tallies:

        def pct(v: float) -> str:
            return "-" if v != v else f"{100 * v:.0f}%"

        def ci(lo: float, hi: float) -> str:
            return "-" if lo != lo else f"{100 * lo:.0f}-{100 * hi:.0f}%"

        trows = [
            [
                html.escape(t.label),
                html.escape(t.access),
                f"{t.hits}/{t.models}" if t.models else "-",
                ci(*t.asr_ci),
                pct(t.chance),
                f"{t.false_alarms}/{t.nulls}" if t.nulls else "unmeasured",
                ci(*t.fpr_ci),
                _fmt(t.forget_acc),
            ]
            for t in tallies
        ]
        parts.append("<h2 id='summary'>Per attack: exact-set hits beside chance, false alarms</h2>")
        parts.append(f'<p class="note">{TALLY_NOTE}</p>')
        heads = [
            "attack",
            "access",
            "exact hits / unlearned models",
            "95% interval",
            "chance",
            "false alarms / null models",
            "95% interval",
            "mean forget acc",
        ]
        parts.append(_table(heads, trows))

    parts.append("<h2 id='threat'>Threat model of each attack</h2><ul>")
    for name in dict.fromkeys(r.attack for r in rows if r.attack):
        cls_ = atk.attack_class(name)
        access = cls_.requires.name.lower()
        what = html.escape(cls_.threat or cls_.description)
        parts.append(f"<li><b>{html.escape(name)}</b> ({access} access): {what}</li>")
    parts.append("</ul>")

    parts.append("<h2 id='scores'>Per-class scores</h2>")
    parts.append(
        '<p class="note">Red bars: forgotten classes; outlined: classes the attack named.</p>'
    )
    for label in labels:
        panels = [
            (_name(kind, method, defence), r.scores, r.forget, r.predicted)
            for kind, method, defence in models_
            if (r := index.get((kind, method, defence, label))) and not r.error and r.scores
        ]
        if panels:
            svgs = "".join(svg_bars(*p) for p in panels)
            parts.append(f'<div class="scores"><h3>{html.escape(label)}</h3>{svgs}</div>')

    for attack in ("wb-inversion", "bb-genetic"):
        grids = []
        for key, d in result.details.items():
            kind, method, label = key.split(":", 2)
            if label.startswith(attack) and "prototypes" in d:
                grids.append((_name(kind, method), np.asarray(d["prototypes"], dtype=np.float32)))
        if grids:
            title = f"{attack}: one prototype per class"
            parts.append(f"<h2 id='prototypes-{attack}'>Inverted prototypes ({attack})</h2>")
            parts.append(_img(plots.prototype_grid(title, grids), f"prototypes {attack}"))
    where = html.escape(str(result.run_dir or ""))
    parts.append(f'<p class="note">Written by unleak. Run directory: {where}</p>')
    head = f'<meta charset="utf-8"><title>unleak audit</title><style>{CSS}</style>'
    return f'<!doctype html><html lang="en"><head>{head}</head><body>{"".join(parts)}</body></html>'


def write_report(result: Any, path: str | Path, data: Any = None) -> Path:
    return atomic_write_text(path, render(result, data))
