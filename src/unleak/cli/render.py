"""What the CLI draws: progress bars and result tables (rich). The library never prints; the
commands call it, then hand what it returns to these functions."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unleak import attacks as atk
from unleak.training import Hooks, TrainState

out = Console()
err = Console(stderr=True)


def _progress(description: str = "{task.description}") -> Progress:
    return Progress(
        TextColumn(description),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=err,
    )


class TrainingProgress:
    """A training callback that draws one progress bar over the steps."""

    def __init__(self, label: str) -> None:
        self.progress = _progress()
        self.task: Any = None

        def begin(state: TrainState) -> None:
            total = state.num_epochs * state.steps_per_epoch
            self.task = self.progress.add_task(escape(label), total=total, info="")

        def batch(state: TrainState) -> None:
            self.progress.update(self.task, advance=1, info=f"loss {state.loss:.3f}")

        def epoch(state: TrainState) -> None:
            e = state.history.epochs[-1]
            extra = f" test {e.eval_acc:.3f}" if e.eval_acc is not None else ""
            info = f"epoch {e.epoch + 1} acc {e.train_acc:.3f}{extra}"
            self.progress.update(self.task, info=info)

        self.callback = Hooks(on_train_begin=begin, on_batch_end=batch, on_epoch_end=epoch)

    def __enter__(self) -> TrainingProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)


class AuditProgress:
    """Renders an audit's stages as progress bars (training epochs shown inside a stage)."""

    def __init__(self) -> None:
        self.progress = _progress("{task.description:<16}")
        self.task: Any = None

    def __enter__(self) -> AuditProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def stage(self, name: str, total: int | None = None) -> None:
        if self.task is not None:
            t = self.progress.tasks[self.task]
            if t.total is None:
                self.progress.update(self.task, total=1, completed=1)
        self.task = self.progress.add_task(escape(name), total=total, info="")

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def callbacks(self) -> list[Any]:
        def epoch(state: TrainState) -> None:
            e = state.history.epochs[-1]
            info = f"epoch {e.epoch + 1}/{state.num_epochs} loss {e.loss:.3f}"
            self.progress.update(self.task, info=info)

        return [Hooks(on_epoch_end=epoch)]


class SweepProgress:
    """One bar over a sweep's runs."""

    def __init__(self, name: str, total: int) -> None:
        self.progress = _progress()
        self.task = self.progress.add_task(escape(name), total=total, info="")

    def __enter__(self) -> SweepProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def on_run(self, run: Any, error: str | None) -> None:
        info = ("failed: " + error[:60]) if error else run.describe()
        self.progress.update(self.task, advance=1, info=escape(info))

    def done(self, completed: int) -> None:
        self.progress.update(self.task, completed=completed)


def short_label(label: str) -> str:
    """Compact column names from the attack's own short label: ``wb-inversion[entropy]/threshold``
    -> ``wb entropy``."""
    attack, _, decider = label.partition("/")
    attack, _, criterion = attack.partition("[")
    try:
        cls = atk.attack_class(attack)
        name = cls.label or attack
        default = cls.default_decider
    except Exception:  # a row of an attack no longer registered: show its name
        name, default = attack, ""
    parts = [name, criterion.rstrip("]")]
    if decider.split("@")[0] not in (default, "topm"):
        parts.append(decider)
    return " ".join(p for p in parts if p)


def audit_table(result: Any) -> Table:
    """Rows: models; columns: attacks; cells: the predicted forgotten set."""
    rows = [r for r in result.rows if r.attack]
    labels = list(dict.fromkeys(r.label for r in rows))
    k = max((len(r.scores) for r in rows if r.scores), default=10)
    table = Table(
        title=f"forgotten: {list(result.forget)}  (chance for one class of {k}: {1 / k:.2f})",
        caption="cells: predicted forgotten set; red = leaked (or false positive on a null model)",
    )
    table.add_column("model")
    table.add_column("forget/ retain", justify="right")
    for label in labels:
        table.add_column(escape(short_label(label)), justify="center")
    index = {(r.kind, r.method, r.label): r for r in rows}
    for kind, method in dict.fromkeys((r.kind, r.method) for r in rows):
        e = result.efficacy.get(method, {}) if kind == "unlearned" else {}
        acc = f"{e['forget_acc']:.2f}/{e['retain_acc']:.2f}" if "forget_acc" in e else "-"
        cells = []
        for label in labels:
            r = index.get((kind, method, label))
            if r is None:
                cells.append("")
            elif r.error:
                cells.append("[yellow]error[/]")
            else:
                pred = "{" + ",".join(map(str, r.predicted)) + "}"
                if kind == "null":
                    cells.append(f"[red]{pred} ✗[/]" if r.predicted else "[green]{} ✓[/]")
                else:
                    cells.append(f"[red]{pred} hit[/]" if r.hit else f"[green]{pred}[/]")
        table.add_row(escape(f"{method}{' (null)' if kind == 'null' else ''}"), acc, *cells)
    for method, e in result.efficacy.items():
        if "error" in e:
            first = escape(e["error"][:40])
            table.add_row(escape(method), "[yellow]failed[/]", first, *[""] * (len(labels) - 1))
    return table


def attack_table(outcome: Any) -> Table:
    """Per-class scores of one attack and whether it names the class."""
    result, data = outcome.result, outcome.data
    table = Table(title=escape(f"{result.attack} / {result.decider} on {outcome.weights}"))
    table.add_column("class")
    table.add_column("name")
    table.add_column("score", justify="right")
    table.add_column("forgotten?")
    for c, score in enumerate(result.scores):
        table.add_row(
            str(c),
            escape(data.class_names[c]),
            "-" if score != score else f"{score:.3f}",
            "[bold red]yes[/]" if c in result.predicted else "",
        )
    return table


def unlearn_table(result: Any) -> Table:
    e = result.efficacy
    table = Table(title=f"{result.method}: forget {list(e.forget)} ({result.seconds:.1f} s)")
    for col in ("model", "forget acc", "retain acc", "test acc"):
        table.add_column(col, justify="right")
    table.add_row(result.method, f"{e.forget_acc:.4f}", f"{e.retain_acc:.4f}", f"{e.test_acc:.4f}")
    if e.reference is not None and result.method != "rt":
        r = e.reference
        table.add_row(
            "rt (reference)", f"{r.forget_acc:.4f}", f"{r.retain_acc:.4f}", f"{r.test_acc:.4f}"
        )
    return table


def checks_table(name: str, checks: list[Any]) -> Table:
    table = Table(title=escape(name))
    for col in ("file", "md5", "status"):
        table.add_column(col)
    for c in checks:
        status = (
            "ok" if c.ok else ("missing" if c.actual is None else f"md5 {c.actual} != official")
        )
        table.add_row(escape(str(c.path)), c.expected, status)
    return table
