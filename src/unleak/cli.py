"""The ``unleak`` command line: a thin layer over the Python API.

Every command maps to one library call. Problems with the input raise :class:`UnleakError`, which
``main`` prints as one line on stderr with exit code 2.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unleak.errors import ConfigError, UnleakError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Audit machine unlearning for label leakage.",
)
data_app = typer.Typer(no_args_is_help=True, help="List, check and download data sets.")
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)

DataRoot = Annotated[
    Path | None,
    typer.Option(
        "--data-root",
        help="folder with the data sets (default: $UNLEAK_DATA, then a per-user cache)",
    ),
]


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log details")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


class RichProgress:
    """A training callback that draws one rich progress bar over the steps."""

    def __init__(self, label: str) -> None:
        from unleak.training import Hooks

        def begin(state: Any) -> None:
            total = state.num_epochs * state.steps_per_epoch
            self.task = self.progress.add_task(label, total=total, info="")

        def batch(state: Any) -> None:
            self.progress.update(self.task, advance=1, info=f"loss {state.loss:.3f}")

        def epoch(state: Any) -> None:
            e = state.history.epochs[-1]
            extra = f" test {e.eval_acc:.3f}" if e.eval_acc is not None else ""
            info = f"epoch {e.epoch + 1} acc {e.train_acc:.3f}{extra}"
            self.progress.update(self.task, info=info)

        self.callback = Hooks(on_train_begin=begin, on_batch_end=batch, on_epoch_end=epoch)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=err,
            transient=False,
        )
        self.task: Any = None

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)


def parse_kv(items: list[str] | None, what: str) -> dict[str, Any]:
    """``["width=64", "hidden=[128,64]"]`` -> ``{"width": 64, "hidden": [128, 64]}`` (YAML)."""
    import yaml

    outd: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {item!r} is not KEY=VALUE", f"write {what} like width=64")
        try:
            outd[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{what} {item!r} has an unreadable value", "quote it as YAML"
            ) from exc
    return outd


# --------------------------------------------------------------------------- train


@app.command()
def train(
    out_dir: Annotated[Path, typer.Option("--out", help="checkpoint folder to write")],
    dataset: Annotated[str, typer.Option(help="data set name or npz:PATH[,TEST]")] = "digits",
    model: Annotated[
        str | None, typer.Option("--model", help="architecture (default per data set)")
    ] = None,
    epochs: Annotated[float | None, typer.Option(help="epochs (default per data set)")] = None,
    seed: Annotated[int, typer.Option(help="seed for weights, batches and augmentation")] = 0,
    batch_size: Annotated[int | None, typer.Option(help="batch size")] = None,
    lr: Annotated[float | None, typer.Option(help="learning rate")] = None,
    augment: Annotated[str | None, typer.Option(help="none, shift or crop-flip")] = None,
    arch_arg: Annotated[
        list[str] | None, typer.Option("--arch-arg", help="architecture argument KEY=VALUE")
    ] = None,
    record_updates: Annotated[
        bool,
        typer.Option(
            "--record-updates", help="record parameter updates per batch (for `--method au`)"
        ),
    ] = False,
    record_epochs: Annotated[
        int | None, typer.Option(help="record only the last N epochs (default: all)")
    ] = None,
    class_pure: Annotated[
        bool, typer.Option("--class-pure", help="single-class batches in the recorded epochs")
    ] = False,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    data_root: DataRoot = None,
) -> None:
    """Train a model and write DIR/model.safetensors and DIR/model.json."""
    from unleak.experiments.pipeline import train_original

    overrides = {
        k: v
        for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr, augment=augment).items()
        if v is not None
    }
    with RichProgress(f"train {dataset}") as prog:
        result = train_original(
            dataset=dataset,
            model=model,
            seed=seed,
            data_root=data_root,
            overrides=overrides,
            arch_args=parse_kv(arch_arg, "--arch-arg"),
            record_updates=record_updates,
            record_epochs=record_epochs,
            class_pure=class_pure,
            device=device,
            callbacks=[prog.callback],
            out=out_dir,
        )
    out.print(
        f"[bold]{result.arch}[/] on [bold]{result.dataset}[/]: train accuracy "
        f"{result.train_acc:.4f}, test accuracy {result.test_acc:.4f} "
        f"({result.seconds:.1f} s) -> {out_dir}"
    )


# --------------------------------------------------------------------------- unlearn


@app.command()
def unlearn(
    checkpoint: Annotated[Path, typer.Option(help="checkpoint folder of the original model")],
    method: Annotated[str, typer.Option(help="rt, ft, rl, au or ng")],
    forget: Annotated[str, typer.Option(help="classes to forget, e.g. 3 or 3,7")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the unlearned model to")],
    seed: Annotated[int, typer.Option(help="seed of the unlearning run")] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a method setting KEY=VALUE (e.g. lr=0.01)"),
    ] = None,
    reference: Annotated[
        bool, typer.Option(help="also retrain (rt) for the reference efficacy")
    ] = True,
    data_root: DataRoot = None,
) -> None:
    """Unlearn classes from a checkpoint; write the model, its metadata and efficacy.json."""
    from unleak.experiments.pipeline import unlearn_checkpoint

    with RichProgress(f"unlearn {method}") as prog:
        result = unlearn_checkpoint(
            checkpoint,
            method=method,
            forget=forget,
            seed=seed,
            overrides=parse_kv(set_, "--set"),
            data_root=data_root,
            reference=reference,
            callbacks=[prog.callback],
            out=out_dir,
        )
    e = result.efficacy
    table = Table(title=f"{method}: forget {list(e.forget)} ({result.run.seconds:.1f} s)")
    for col in ("model", "forget acc", "retain acc", "test acc"):
        table.add_column(col, justify="right")
    table.add_row(method, f"{e.forget_acc:.4f}", f"{e.retain_acc:.4f}", f"{e.test_acc:.4f}")
    if e.reference is not None and method != "rt":
        r = e.reference
        table.add_row(
            "rt (reference)", f"{r.forget_acc:.4f}", f"{r.retain_acc:.4f}", f"{r.test_acc:.4f}"
        )
    out.print(table)
    out.print(f"wrote {out_dir}")


# --------------------------------------------------------------------------- audit


class AuditProgress:
    """Renders the audit's stages as rich progress bars (training steps inside a stage)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=err,
        )
        self.task: Any = None
        self.train_task: Any = None

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
        self.task = self.progress.add_task(name, total=total, info="")

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def callbacks(self) -> list[Any]:
        from unleak.training import Hooks

        def epoch(state: Any) -> None:
            e = state.history.epochs[-1]
            info = f"epoch {e.epoch + 1}/{state.num_epochs} loss {e.loss:.3f}"
            self.progress.update(self.task, info=info)

        return [Hooks(on_epoch_end=epoch)]


@app.command("audit")
def audit_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="run directory to write")] = Path(
        "runs/audit"
    ),
    config: Annotated[
        Path | None, typer.Option(help="audit.yaml with any of the settings below")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="data set (default digits)")] = None,
    model: Annotated[str | None, typer.Option(help="architecture (default per data set)")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="original model to load instead of training")
    ] = None,
    methods: Annotated[str | None, typer.Option(help="comma-separated unlearning methods")] = None,
    forget: Annotated[
        str | None, typer.Option(help="classes to forget (default: one, chosen by the seed)")
    ] = None,
    attacks_: Annotated[
        str | None, typer.Option("--attacks", help="comma-separated ATTACK[/DECIDER]")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the whole audit")] = None,
    query_budget: Annotated[int | None, typer.Option(help="bb-genetic query budget")] = None,
    num_forgotten_known: Annotated[
        bool | None, typer.Option("--num-forgotten-known", help="also run top-m")
    ] = None,
    data_root: DataRoot = None,
) -> None:
    """Train, unlearn with each method, run every attack and baseline, and report."""
    from unleak.experiments.audit import audit, load_config
    from unleak.experiments.pipeline import parse_forget

    cfg = load_config(
        config,
        dataset=dataset,
        model=model,
        checkpoint=str(checkpoint) if checkpoint else None,
        methods=methods.split(",") if methods else None,
        forget=parse_forget(forget) if forget else None,
        attacks=attacks_.split(",") if attacks_ else None,
        seed=seed,
        query_budget=query_budget,
        num_forgotten_known=num_forgotten_known,
        data_root=str(data_root) if data_root else None,
    )
    with AuditProgress() as prog:
        result = audit(cfg, out_dir, reporter=prog)
    print_audit(result)


SHORT = {
    "param-diff": "p-diff",
    "param-dot": "p-dot",
    "wb-inversion": "wb",
    "bb-genetic": "bb",
    "before-after": "b/a",
}


def _short(label: str) -> str:
    """Compact column names: ``wb-inversion[entropy]/threshold`` -> ``wb entropy``."""
    attack, _, decider = label.partition("/")
    attack, _, criterion = attack.partition("[")
    parts = [SHORT.get(attack, attack), criterion.rstrip("]")]
    if decider not in ("threshold", "kmeans", "topm"):
        parts.append(decider)
    return " ".join(p for p in parts if p)


def print_audit(result: Any) -> None:
    rows = [r for r in result.rows if r.get("attack")]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    k = max((len(r["scores"]) for r in rows if r.get("scores")), default=10)
    table = Table(
        title=f"forgotten: {list(result.forget)}  (chance for one class of {k}: {1 / k:.2f})",
        caption="cells: predicted forgotten set; red = leaked (or false positive on a null model)",
    )
    table.add_column("model")
    table.add_column("forget/ retain", justify="right")
    for label in labels:
        table.add_column(_short(label), justify="center")
    models_ = list(dict.fromkeys((r["kind"], r["method"]) for r in rows))
    for kind, method in models_:
        e = result.efficacy.get(method, {}) if kind == "unlearned" else {}
        acc = f"{e['forget_acc']:.2f}/{e['retain_acc']:.2f}" if "forget_acc" in e else "-"
        cells = []
        for label in labels:
            match = [
                r
                for r in rows
                if r["label"] == label and r["method"] == method and r["kind"] == kind
            ]
            if not match:
                cells.append("")
                continue
            r = match[0]
            if r.get("error"):
                cells.append("[yellow]error[/]")
                continue
            pred = "{" + ",".join(map(str, r["predicted"])) + "}"
            if kind == "null":
                cells.append(f"[red]{pred} ✗[/]" if r["predicted"] else "[green]{} ✓[/]")
            else:
                cells.append(f"[red]{pred} hit[/]" if r["hit"] else f"[green]{pred}[/]")
        table.add_row(f"{method}{' (null)' if kind == 'null' else ''}", acc, *cells)
    for method, e in result.efficacy.items():
        if "error" in e:
            table.add_row(
                method, "[yellow]failed[/]", *[e["error"][:40]] + [""] * (len(labels) - 1)
            )
    out.print(table)
    if result.run_dir is not None:
        out.print(f"run directory: {result.run_dir}  (report: {result.run_dir / 'report.html'})")


# --------------------------------------------------------------------------- sweep, report


@app.command()
def sweep(
    config: Annotated[Path, typer.Argument(help="sweep configuration (YAML)")],
    out_dir: Annotated[Path, typer.Option("--out", help="sweep directory (results.sqlite, cache)")],
    resume: Annotated[bool, typer.Option("--resume", help="skip runs already finished")] = False,
    executor: Annotated[str, typer.Option(help="local or ray")] = "local",
    workers: Annotated[int, typer.Option(help="local worker processes")] = 1,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: local Ray)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="run at most N runs now")] = None,
) -> None:
    """Run a grid of experiments into DIR/results.sqlite (resumable)."""
    from unleak.experiments.sweep import expand, load_sweep_config, run_sweep

    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}", "use local or ray")
    if workers < 1:
        raise ConfigError(f"--workers {workers}", "use at least 1 worker")
    cfg = load_sweep_config(config)
    total = len(expand(cfg))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=err,
    ) as prog:
        task = prog.add_task(cfg.name, total=total, info="")

        def on_run(run: Any, error: str | None) -> None:
            prog.update(
                task, advance=1, info=("failed: " + error[:60]) if error else run.describe()
            )

        outcome = run_sweep(
            cfg,
            out_dir,
            executor=executor,
            workers=workers,
            resume=resume,  # type: ignore[arg-type]
            address=address,
            on_run=on_run,
            limit=limit,
        )
        prog.update(task, completed=outcome.skipped + outcome.finished)
    out.print(
        f"{outcome.finished} runs finished ({outcome.failed} failed), "
        f"{outcome.skipped} skipped as done, "
        f"{outcome.total} in the grid, {outcome.seconds:.0f} s. Tables: unleak report {out_dir}"
    )


@app.command()
def report(sweep_dir: Annotated[Path, typer.Argument(help="a sweep directory")]) -> None:
    """Regenerate Markdown and CSV tables and figures of a sweep."""
    from unleak.report.tables import sweep_report

    if not (sweep_dir / "results.sqlite").is_file():
        raise ConfigError(
            f"{sweep_dir} holds no results.sqlite", "point at a directory written by unleak sweep"
        )
    for kind, path in sweep_report(sweep_dir).items():
        out.print(f"{kind}: {path}")


# --------------------------------------------------------------------------- attack


@app.command()
def attack(
    weights: Annotated[Path, typer.Option(help="weights (.safetensors) or a checkpoint folder")],
    dataset: Annotated[str, typer.Option(help="the data set the model was trained on")] = "digits",
    attack_name: Annotated[
        str,
        typer.Option(
            "--attack",
            help="param-diff, param-dot, wb-inversion, bb-genetic, before-after, oracle, chance",
        ),
    ] = "param-diff",
    decider: Annotated[
        str | None, typer.Option(help="kmeans, gap, threshold, youden, tree or topm")
    ] = None,
    criterion: Annotated[
        str | None, typer.Option(help="screening of inversion attacks: threshold or entropy")
    ] = None,
    arch: Annotated[str | None, typer.Option(help="zoo architecture of the weights")] = None,
    model_def: Annotated[str | None, typer.Option(help="your model class, PATH.py:CLASS")] = None,
    model_arg: Annotated[
        list[str] | None, typer.Option(help="constructor argument KEY=VALUE")
    ] = None,
    unrelated: Annotated[
        str | None,
        typer.Option(
            help="param-diff: unrelated data (name, npz:PATH, noise, blur, strokes; a+b mixes)"
        ),
    ] = None,
    known_classes: Annotated[
        str | None, typer.Option(help="param-dot: classes you know were retained, e.g. 0,1,2")
    ] = None,
    num_forgotten: Annotated[
        int | None, typer.Option(help="number of forgotten classes, if known (topm)")
    ] = None,
    query_budget: Annotated[
        int | None, typer.Option(help="bb-genetic: queries for the whole attack")
    ] = None,
    original: Annotated[
        Path | None, typer.Option(help="the original model too (before/after attacker)")
    ] = None,
    shadow: Annotated[
        str | None, typer.Option(help="data set for shadow calibration (youden, tree)")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="attack parameter KEY=VALUE")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the result as JSON")
    ] = None,
    data_root: DataRoot = None,
) -> None:
    """Attack a model: print per-class scores and the predicted forgotten classes."""
    from unleak import attacks
    from unleak import data as data_mod
    from unleak._io import atomic_write_json
    from unleak.experiments.pipeline import load_target_model, make_attack, parse_forget

    params = parse_kv(set_, "--set")
    for key, value in (
        ("unrelated", unrelated),
        ("criterion", criterion),
        ("query_budget", query_budget),
    ):
        if value is not None:
            params[key] = value
    cls = attacks.attack_class(attack_name)  # unknown names fail before any loading
    data = data_mod.load(dataset, data_root)
    margs = parse_kv(model_arg, "--model-arg")
    target_model = load_target_model(
        weights, data, arch=arch, model_def=model_def, model_args=margs
    )
    orig_model = (
        load_target_model(original, data, arch=arch, model_def=model_def, model_args=margs)
        if original
        else None
    )
    with err.status(f"{attack_name}: preparing"):
        atk = make_attack(
            attack_name,
            data=data,
            decider=decider,
            num_forgotten=num_forgotten,
            known_classes=parse_forget(known_classes) if known_classes else None,
            params=params,
            shadow=shadow,
            data_root=data_root,
        )
    handle = _handle(cls.requires, target_model, data, params.get("query_budget"))
    orig_handle = (
        _handle(cls.requires, orig_model, data, params.get("query_budget")) if orig_model else None
    )
    with err.status(f"{attack_name}: attacking"):
        result = atk.run(handle, original=orig_handle)
    table = Table(title=f"{attack_name} / {result.decider} on {weights}")
    table.add_column("class")
    table.add_column("name")
    table.add_column("score", justify="right")
    table.add_column("forgotten?")
    for c, score in enumerate(result.scores):
        table.add_row(
            str(c),
            data.class_names[c],
            "-" if score != score else f"{score:.3f}",
            "[bold red]yes[/]" if c in result.predicted else "",
        )
    out.print(table)
    names = ", ".join(f"{c} ({data.class_names[c]})" for c in result.predicted) or "none"
    out.print(
        f"predicted forgotten: {names}   queries: {result.queries}   "
        f"calibration: {result.calibration}"
    )
    if json_out is not None:
        atomic_write_json(json_out, result.to_dict())


def _handle(level: Any, model: Any, data: Any, budget: int | None) -> Any:
    from unleak import attacks

    shape, k = data.input_shape, data.num_classes
    if level == attacks.Access.QUERIES:
        attacks.Weights(model, shape, k)  # checks the head and K before anything else
        return attacks.Queries(model, shape, k, budget=budget)
    if level == attacks.Access.GRADIENTS:
        attacks.Weights(model, shape, k)
        return attacks.Gradients(model, shape, k)
    return attacks.Weights(model, shape, k)


# --------------------------------------------------------------------------- data


@data_app.command("list")
def data_list(data_root: DataRoot = None) -> None:
    """List the data sets and whether their files are present under the data root."""
    from unleak import data

    root = data.resolve_root(data_root)
    table = Table(title=f"data sets (root: {root})")
    for col in ("name", "files", "description"):
        table.add_column(col)
    for name in data.names():
        s = data.spec(name)
        if not s.files:
            status = "embedded"
        else:
            present = sum((root / f.path).is_file() for f in s.files)
            status = f"{present}/{len(s.files)} present"
        table.add_row(name, status, s.description)
    table.add_row("npz:PATH[,TEST]", "-", "your arrays x (images) and y (labels)")
    out.print(table)


def _print_checks(name: str, checks: list[Any]) -> None:
    table = Table(title=name)
    for col in ("file", "md5", "status"):
        table.add_column(col)
    for c in checks:
        status = (
            "ok" if c.ok else ("missing" if c.actual is None else f"md5 {c.actual} != official")
        )
        table.add_row(str(c.path), c.expected, status)
    out.print(table)


@data_app.command("check")
def data_check(name: str, data_root: DataRoot = None) -> None:
    """Verify the official md5 of every file of a data set."""
    from unleak import data

    checks = data.check(name, data_root)
    if not checks:
        out.print(f"{name} is embedded: nothing to check")
        return
    _print_checks(name, checks)
    bad = [c for c in checks if not c.ok]
    if bad:
        first = bad[0]
        problem = "missing" if first.actual is None else "md5 mismatch for"
        raise UnleakError(
            f"{name}: {problem} {first.path}"
            + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""),
            f"run `unleak data download {name}` or replace the file(s) with the official ones",
        )


@data_app.command("download")
def data_download(name: str, data_root: DataRoot = None) -> None:
    """Download the official files of a data set (with md5 checks)."""
    from unleak import data

    with err.status(f"downloading {name}"):
        checks = data.download(name, data_root)
    if checks:
        _print_checks(name, checks)
    else:
        out.print(f"{name} is embedded: nothing to download")


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors with exit code 2 for problems with the input."""
    try:
        app(args=argv, standalone_mode=True)
    except UnleakError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


def _json_dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


if __name__ == "__main__":  # pragma: no cover
    main()
