"""What the CLI draws: progress bars and result tables (rich). The library never prints; the
commands call it, then hand what it returns to these functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unleak import catalog, recipes

if TYPE_CHECKING:  # the progress bars build training hooks only once a command runs
    from unleak.training import TrainState

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


def _close(progress: Progress, exc: tuple[object, ...]) -> None:
    """End the bars; a command that fails leaves only its one-line error on stderr."""
    if exc and exc[0] is not None:
        for task in list(progress.task_ids):
            progress.remove_task(task)
    progress.__exit__(*exc)  # type: ignore[arg-type]


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

        from unleak.training import Hooks

        self.callback = Hooks(on_train_begin=begin, on_batch_end=batch, on_epoch_end=epoch)

    def __enter__(self) -> TrainingProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        _close(self.progress, exc)


class AuditProgress:
    """Renders an audit's stages as progress bars (training epochs shown inside a stage)."""

    def __init__(self) -> None:
        self.progress = _progress("{task.description:<16}")
        self.task: Any = None

    def __enter__(self) -> AuditProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        _close(self.progress, exc)

    def stage(self, name: str, total: int | None = None) -> None:
        if self.task is not None:
            t = self.progress.tasks[self.task]
            if t.total is None:
                self.progress.update(self.task, total=1, completed=1)
        self.task = self.progress.add_task(escape(name), total=total, info="")

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def callbacks(self) -> list[Any]:
        from unleak.training import Hooks

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
        _close(self.progress, exc)

    def on_run(self, run: Any, error: str | None) -> None:
        info = ("failed: " + error[:60]) if error else run.describe()
        self.progress.update(self.task, advance=1, info=escape(info))

    def done(self, completed: int) -> None:
        self.progress.update(self.task, completed=completed)


def _set(classes: list[int]) -> str:
    return "{" + ",".join(map(str, classes)) + "}"


def audit_table(result: Any) -> Table:
    """One row per attacked model, four columns, readable at 80 columns: efficacy, how many
    attacks named exactly the forgotten set (on a null model: named nothing), and every other
    answer with the attacks that gave it. The full model x attack grid is in the run directory
    (report.html, results.csv)."""
    attacks = catalog.index()["attacks"]
    rows = [r for r in result.rows if r.attack and not attacks.get(r.attack, {}).get("baseline")]
    title = (
        f"forgotten: {_set(list(result.forget))}"
        if result.forget
        else "forgotten: not known to unleak (your models); what each attack named"
    )
    table = Table(
        title=title,
        caption="full grid of models x attacks: report.html and results.csv in the run directory",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("model", overflow="fold", max_width=22)
    table.add_column("forget/retain", justify="right", no_wrap=True)
    table.add_column("exact", justify="right", no_wrap=True)
    table.add_column("other answers (attack)", overflow="fold")
    for kind, method, defence in dict.fromkeys((r.kind, r.method, r.defence) for r in rows):
        mine = [r for r in rows if (r.kind, r.method, r.defence) == (kind, method, defence)]
        tag = f"{method}+{defence}" if defence else method
        e = result.efficacy.get(tag, result.efficacy.get(method, {})) if kind != "null" else {}
        shown = catalog.method_label(method) + (f"+{defence}" if defence else "")
        if "forget_acc" in e:
            acc = f"{e['forget_acc']:.2f}/{e['retain_acc']:.2f}"
        elif "test_acc" in e:
            acc = f"test {e['test_acc']:.2f}"
        else:
            acc = "-"
        done = [r for r in mine if not r.error]
        target = [] if kind == "null" else list(result.forget)
        exact = [r for r in done if sorted(r.predicted) == sorted(target)]
        has_truth = kind == "null" or bool(result.forget)
        colour = "green" if kind == "null" else "red"
        exact_cell = f"[{colour}]{len(exact)}/{len(done)}[/]" if has_truth else "-"
        others: dict[str, list[str]] = {}
        for r in done:
            if not has_truth or r not in exact:
                others.setdefault(_set(r.predicted), []).append(catalog.short_label(r.label))
        answers = "; ".join(f"{k}: {', '.join(v)}" for k, v in others.items())
        failed = [catalog.short_label(r.label) for r in mine if r.error]
        if failed:
            answers += ("; " if answers else "") + f"[yellow]failed: {', '.join(failed)}[/]"
        name = f"{shown} (null)" if kind == "null" else shown
        table.add_row(escape(name), acc, exact_cell, escape(answers) if not failed else answers)
    for method, e in result.efficacy.items():
        if "error" in e:
            table.add_row(escape(method), "[yellow]failed[/]", "", escape(e["error"][:120]))
    return table


def verdict_lines(result: Any) -> list[str]:
    """The verdict per model of your own, one line each (rich markup)."""
    names = list(result.class_names)
    lines = []
    for path, v in result.verdicts.items():
        colour = "red" if v.removed else ("yellow" if v.damaged or not v.measured else "green")
        sentence = v.sentence(names, catalog.short_label)
        lines.append(f"[bold]{escape(path)}[/]: [{colour}]{escape(sentence)}[/]")
        heard = ", ".join(
            f"{catalog.short_label(x.attack)} {x.false_alarms}/{x.nulls}"
            + ("" if x.votes else " (not heard)")
            for x in v.voters
        )
        if heard:
            lines.append(f"  [dim]voters, false alarms on your nulls: {escape(heard)}[/]")
        for label, error in v.failed.items():
            lines.append(f"  [yellow]{escape(label)} did not run: {escape(error)}[/]")
    return lines


def _ci(lo: float, hi: float) -> str:
    return "-" if lo != lo else f"[{100 * lo:.0f}-{100 * hi:.0f}%]"


def tally_table(result: Any) -> Table:
    """Per attack over the audit's models: exact-set hits beside chance, false alarms on nulls."""
    table = Table(
        title="per attack over this audit's models (95% Wilson intervals)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("attack", "access", "exact hits", "chance", "false alarms (nulls)"):
        table.add_column(col, justify="left" if col in ("attack", "access") else "right")
    for t in result.tallies():
        chance = "-" if t.chance != t.chance else f"{100 * t.chance:.0f}%"
        table.add_row(
            escape(catalog.short_label(t.label)),
            t.access,
            f"{t.hits}/{t.models} {_ci(*t.asr_ci)}" if t.models else "-",
            chance,
            f"{t.false_alarms}/{t.nulls} {_ci(*t.fpr_ci)}" if t.nulls else "unmeasured",
        )
    return table


def leakage_tables(results: Any) -> list[Table]:
    """The paper's table per data set and model of a sweep: per method, each attack's exact-set
    ASR with its 95% interval and n; under them chance, and each attack's false alarms on the
    null models. ``results``: the sweep's :class:`~unleak.evaluation.results.Results`."""
    df = results.summary(by=["dataset", "model", "defence", "method", "label"])
    if df.empty or "asr" not in df:
        return []
    tables = []
    for (dataset, model, defence), cell in df.groupby(["dataset", "model", "defence"], sort=False):
        # each attack at its frozen rule, and chance; top-m (told |F|) and the other baselines
        # are in the sweep's report
        shown = catalog.leakage_labels(list(cell["label"]))
        guard = f" + {defence}" if defence else ""
        name = str(dataset)
        if name.startswith(catalog.FILE_DATA):  # npz:a/b/train.npz,... -> train (its stem)
            name = name.partition(":")[2].split(",")[0].rstrip("/").rsplit("/", 1)[-1]
            name = name.removesuffix(".npz")
        table = Table(
            title=f"{name}/{model}{guard}: exact-set ASR [95% CI] (n models)",
            caption="top-m (told how many classes were forgotten), oracle and before-after: "
            "unleak report DIR",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        table.add_column("method", overflow="fold", max_width=28)
        table.add_column("forget/retain", justify="right", no_wrap=True)
        for lab in shown:
            table.add_column(escape(catalog.short_label(lab)), justify="right", overflow="fold")
        fpr: dict[str, str] = {}
        for method, rows in cell.groupby("method", sort=False):
            by = {r["label"]: r for r in rows.to_dict("records")}
            first = next(iter(by.values()))
            acc = f"{first['forget_acc']:.2f}/{first['retain_acc']:.2f}"
            cells = []
            for lab in shown:
                r = by.get(lab)
                if r is None:
                    cells.append("-")
                    continue
                cells.append(f"{100 * r['asr']:.0f}% {_ci(r['asr_lo'], r['asr_hi'])} ({r['n']})")
                if r.get("fpr_n") == r.get("fpr_n") and not lab.startswith("chance"):
                    fpr[lab] = f"{100 * r['fpr']:.0f}% {_ci(r['fpr_lo'], r['fpr_hi'])} " + (
                        f"({int(r['fpr_n'])})"
                    )
            table.add_row(escape(catalog.method_label(str(method))), acc, *cells)
        table.add_row(
            "[dim]false alarms (nulls)[/]",
            "",
            *(fpr.get(lab, "-" if lab.startswith("chance") else "unmeasured") for lab in shown),
        )
        tables.append(table)
    return tables


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
    name = escape(catalog.method_label(result.method))
    table = Table(title=f"{name}: forget {list(e.forget)} ({result.seconds:.1f} s)")
    for col in ("model", "forget acc", "retain acc", "test acc"):
        table.add_column(col, justify="right")
    table.add_row(name, f"{e.forget_acc:.4f}", f"{e.retain_acc:.4f}", f"{e.test_acc:.4f}")
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


def catalogue() -> Table:
    """Methods, their named recipes, defences, attacks and deciders, one line each."""
    index = catalog.index()
    table = Table(title="unleak: what can run", show_lines=False)
    for col in ("kind", "name", "what"):
        table.add_column(col)
    for name, info in index["methods"].items():
        table.add_row("method", name, escape(info["description"]))
    for name, value in catalog.entry_point_methods().items():  # read from metadata, not imported
        table.add_row("method (installed)", escape(name), escape(value))
    table.add_row("method (yours)", "PATH.py:NAME", "your function or class (docs/methods.md)")
    for name, info in sorted(recipes.variants().items()):
        band = info.get("forget_acc")
        what = info.get("description", "") + (f" (forget accuracy {band})" if band else "")
        table.add_row("recipe", name, escape(what))
    for name, info in index["defences"].items():
        table.add_row(f"defence ({info['kind']})", name, escape(info["description"]))
    for name, info in index["attacks"].items():
        kind = "baseline" if info["baseline"] else "attack"
        table.add_row(f"{kind} ({info['access']})", name, escape(info["threat"]))
    for name, info in index["deciders"].items():
        table.add_row("decider", name, escape(info["description"]))
    return table
