"""The commands of the main job: train, unlearn, audit, sweep, report, attack. Each parses its
options, calls one library function and renders what it returns.

Option help and name checks come from :mod:`unleak.catalog`; the library (torch, scikit-learn)
is imported inside the command that runs, so ``--help`` and a misspelt name answer at once.
It is longer than 400 lines because each command's options are declared in full beside it (typer),
with their help texts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from unleak import catalog
from unleak._io import atomic_write_json, check_output, without_timings
from unleak.cli import render
from unleak.cli.app import DataRoot, app, parse_kv, parse_normalize
from unleak.cli.render import err, out
from unleak.errors import ConfigError

DATASETS = catalog.help_list("datasets", extra=("npz:PATH[,TEST]", "folder:PATH"))


def _names(text: str | None, check: Callable[[str], None]) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``, each name checked against the catalogue first."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    for item in items:
        check(item)
    return items


def _checked(value: str | None, check: Callable[[str], None]) -> None:
    """Check an optional name against the catalogue (nothing to check when it is not given)."""
    if value is not None:
        check(value)


# --------------------------------------------------------------------------- train


@app.command()
def train(
    out_dir: Annotated[Path, typer.Option("--out", help="checkpoint folder to write")],
    dataset: Annotated[str, typer.Option(help=f"data set: {DATASETS}")] = "digits",
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help=f"architecture: {catalog.help_list('models')} (default per data set)"
        ),
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
    catalog.check_dataset(dataset)
    _checked(model, catalog.check_model)
    from unleak.experiments.jobs import train_original

    overrides = {
        k: v
        for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr, augment=augment).items()
        if v is not None
    }
    with render.TrainingProgress(f"train {dataset}") as prog:
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
        f"[bold]{escape(result.arch)}[/] on [bold]{escape(result.dataset)}[/]: train accuracy "
        f"{result.train_acc:.4f}, test accuracy {result.test_acc:.4f} "
        f"({result.seconds:.1f} s) -> {escape(str(out_dir))}"
    )


# --------------------------------------------------------------------------- unlearn


def _method_def(spec: str) -> str:
    """``--method-def PATH.py:NAME``: the form checked here, the file read when the command runs."""
    if not catalog.is_file_spec(spec):
        raise ConfigError(
            f"--method-def {spec!r} is not PATH.py:NAME", "write it like methods/mine.py:unlearn"
        )
    return spec


def _one_method(method: str | None, method_def: str | None) -> str:
    if (method is None) == (method_def is None):
        raise ConfigError(
            "give one unlearning method", "pass --method NAME or --method-def PATH.py:NAME"
        )
    if method_def is not None:
        return _method_def(method_def)
    catalog.check_method(method)  # type: ignore[arg-type]
    return method  # type: ignore[return-value]


@app.command()
def unlearn(
    checkpoint: Annotated[Path, typer.Option(help="checkpoint folder of the original model")],
    forget: Annotated[str, typer.Option(help="classes to forget, e.g. 3 or 3,7")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the unlearned model to")],
    method: Annotated[
        str | None,
        typer.Option(
            help=f"an unlearning method: {catalog.help_list('methods')}; METHOD@VARIANT for a "
            "named recipe (`unleak methods`)"
        ),
    ] = None,
    method_def: Annotated[
        str | None,
        typer.Option(help="a method of your own instead, PATH.py:NAME (docs/methods.md)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the unlearning run")] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a method setting KEY=VALUE (e.g. lr=0.01)"),
    ] = None,
    reference: Annotated[
        bool, typer.Option(help="also retrain (rt) for the reference efficacy")
    ] = True,
    defence: Annotated[
        str | None,
        typer.Option(
            help="a weights defence applied after unlearning: "
            + catalog.help_list("defences", kind="weights")
        ),
    ] = None,
    defence_set: Annotated[
        list[str] | None, typer.Option("--defence-set", help="a defence setting KEY=VALUE")
    ] = None,
    data_root: DataRoot = None,
) -> None:
    """Unlearn classes from a checkpoint; write the model, its metadata and efficacy.json."""
    method = _one_method(method, method_def)
    _checked(defence, catalog.check_defence)
    from unleak.experiments.jobs import unlearn_checkpoint

    with render.TrainingProgress(f"unlearn {method}") as prog:
        result = unlearn_checkpoint(
            checkpoint,
            method=method,
            forget=forget,
            seed=seed,
            overrides=parse_kv(set_, "--set"),
            data_root=data_root,
            reference=reference,
            defence=defence,
            defence_settings=parse_kv(defence_set, "--defence-set"),
            callbacks=[prog.callback],
            out=out_dir,
        )
    out.print(render.unlearn_table(result))
    out.print(f"wrote {escape(str(out_dir))}")


# --------------------------------------------------------------------------- audit


@app.command("audit")
def audit_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="run directory to write")] = Path(
        "runs/audit"
    ),
    config: Annotated[
        Path | None, typer.Option(help="audit.yaml with any of the settings below")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help=f"data set: {DATASETS} (default digits)")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help=f"architecture: {catalog.help_list('models')} (default per data set)"),
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="original model to load instead of training")
    ] = None,
    methods: Annotated[
        str | None,
        typer.Option(
            help=f"comma-separated unlearning methods: {catalog.help_list('methods')} "
            "(METHOD@VARIANT: a named recipe)"
        ),
    ] = None,
    method_def: Annotated[
        list[str] | None,
        typer.Option(
            help="a method of your own, PATH.py:NAME, audited beside the others; repeatable"
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="a setting KEY=VALUE of the --method-def method(s)"),
    ] = None,
    forget: Annotated[
        str | None, typer.Option(help="classes to forget (default: one, chosen by the seed)")
    ] = None,
    attacks_: Annotated[
        str | None,
        typer.Option(
            "--attacks",
            help=f"comma-separated ATTACK[/DECIDER]; attacks and baselines: "
            f"{catalog.help_list('attacks')}; deciders: {catalog.help_list('deciders')}",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the whole audit")] = None,
    query_budget: Annotated[int | None, typer.Option(help="query budget per model")] = None,
    num_forgotten_known: Annotated[
        bool | None, typer.Option("--num-forgotten-known", help="also run top-m")
    ] = None,
    defences: Annotated[
        str | None,
        typer.Option(
            help=f"comma-separated defences, each measured beside none (unleak methods): "
            f"{catalog.help_list('defences')}"
        ),
    ] = None,
    unlearned: Annotated[
        list[str] | None,
        typer.Option(help="YOUR unlearned model (weights or folder); repeat for several"),
    ] = None,
    original: Annotated[
        str | None, typer.Option(help="your original model's weights (for null models)")
    ] = None,
    model_def: Annotated[str | None, typer.Option(help="your model class, PATH.py:CLASS")] = None,
    model_arg: Annotated[
        list[str] | None, typer.Option(help="its constructor argument KEY=VALUE")
    ] = None,
    normalize: Annotated[
        str | None,
        typer.Option(help="inputs your model was trained on: MEAN,STD or M1,M2,M3/S1,S2,S3"),
    ] = None,
    known_classes: Annotated[
        str | None, typer.Option(help="classes you know were kept (param-dot), e.g. 0,1,2")
    ] = None,
    data_root: DataRoot = None,
) -> None:
    """Audit unleak's unlearning end to end, or your own models (--unlearned): every attack and
    baseline, null models, a verdict and a report."""
    _checked(dataset, catalog.check_dataset)
    _checked(model, catalog.check_model)
    method_list = methods.split(",") if methods is not None else None
    if method_list is not None:
        catalog.check_methods(method_list)
    settings = parse_kv(set_, "--set")
    if settings and not method_def:
        raise ConfigError(
            "--set sets a method of your own's settings", "give it with --method-def PATH.py:NAME"
        )
    mine = [_method_def(m) for m in method_def or []]
    if mine:
        base = method_list or _config_methods(config)
        method_list = [*base, *(m for m in mine if m not in base)]
    attack_list = _names(attacks_, catalog.check_attack)
    defence_list = _names(defences, catalog.check_defence)
    from unleak.data.core import parse_class_list
    from unleak.experiments.audit import audit, load_config

    cfg = load_config(
        config,
        dataset=dataset,
        model=model,
        checkpoint=str(checkpoint) if checkpoint else None,
        methods=method_list,
        unlearn=_with_settings(config, mine, settings),
        forget=parse_class_list(forget) if forget is not None else None,
        attacks=attack_list,
        seed=seed,
        query_budget=query_budget,
        num_forgotten_known=num_forgotten_known,
        defences=defence_list,
        unlearned=unlearned,
        original=original,
        model_def=model_def,
        model_args=parse_kv(model_arg, "--model-arg") or None,
        normalize=parse_normalize(normalize) if normalize is not None else None,
        known_classes=parse_class_list(known_classes, "--known-classes")
        if known_classes is not None
        else None,
        data_root=str(data_root) if data_root else None,
    )
    with render.AuditProgress() as prog:
        result = audit(cfg, out_dir, reporter=prog)
    if not result.verdicts:
        out.print(f"[bold]{escape(result.headline())}[/]")
    for line in render.verdict_lines(result):
        out.print(line)
    out.print(render.audit_table(result))
    out.print(render.tally_table(result))
    if result.run_dir is not None:
        where = escape(str(result.run_dir))
        out.print(f"run directory: {where}  (report: {where}/report.html)")


def _from_config(config: Path | None, key: str) -> object:
    """``key`` of the audit's config file, or None; a broken file is refused later, with its own
    message, when the configuration is built."""
    import yaml

    try:
        loaded = yaml.safe_load(config.read_text(encoding="utf-8")) if config else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return loaded.get(key) if isinstance(loaded, dict) else None


def _with_settings(
    config: Path | None, mine: list[str], settings: dict[str, object]
) -> dict[str, object] | None:
    """The config file's per-method overrides with ``--set`` on top for each ``--method-def``
    method (None: nothing to add)."""
    if not settings:
        return None
    given = _from_config(config, "unlearn")
    out = dict(given) if isinstance(given, dict) else {}
    for method in mine:
        earlier = out.get(method)
        out[method] = {**(earlier if isinstance(earlier, dict) else {}), **settings}
    return out


def _config_methods(config: Path | None) -> list[str]:
    """The methods an audit runs before ``--method-def`` adds to them: the config file's, or
    the default ones."""
    from unleak.experiments.settings import DEFAULT_METHODS

    given = _from_config(config, "methods")
    return list(given) if isinstance(given, list) else list(DEFAULT_METHODS)


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
    from unleak.experiments.sweep import check_sweep, load_sweep_config, run_sweep

    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}", "use local or ray")
    if workers < 1:
        raise ConfigError(f"--workers {workers}", "use at least 1 worker")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}", "give a positive number of runs, or leave it out")
    cfg = load_sweep_config(config)
    check_output(out_dir, "dir", "--out")
    total = len(check_sweep(cfg, out_dir))  # refuse a bad grid or store before drawing anything
    with render.SweepProgress(cfg.name, total) as prog:
        outcome = run_sweep(
            cfg,
            out_dir,
            executor=executor,  # type: ignore[arg-type]
            workers=workers,
            resume=resume,
            address=address,
            on_run=prog.on_run,
            limit=limit,
        )
        prog.done(outcome.skipped + outcome.finished)
    from unleak.experiments.sweep import load_results

    for table in render.leakage_tables(load_results(out_dir)):
        out.print(table)
    out.print(
        f"{outcome.finished} runs finished ({outcome.failed} failed), "
        f"{outcome.skipped} skipped as done, {outcome.total} in the grid, "
        f"{outcome.seconds:.0f} s. Tables: unleak report {escape(str(out_dir))}"
    )


@app.command()
def report(sweep_dir: Annotated[Path, typer.Argument(help="a sweep directory")]) -> None:
    """Regenerate Markdown and CSV tables and figures of a sweep."""
    from unleak.experiments.sweep import report as sweep_report

    for kind, path in sweep_report(sweep_dir).items():
        out.print(f"{kind}: {escape(str(path))}")


# --------------------------------------------------------------------------- attack


@app.command()
def attack(
    weights: Annotated[Path, typer.Option(help="weights (.safetensors) or a checkpoint folder")],
    dataset: Annotated[
        str, typer.Option(help=f"the data set the model was trained on: {DATASETS}")
    ] = "digits",
    attack_name: Annotated[
        str, typer.Option("--attack", help=f"an attack or baseline: {catalog.help_list('attacks')}")
    ] = "param-diff",
    decider: Annotated[
        str | None, typer.Option(help=f"decider: {catalog.help_list('deciders')}")
    ] = None,
    criterion: Annotated[
        str | None,
        typer.Option(
            help="reading of a screening attack's evidence: "
            + "; ".join(
                f"{n}: {', '.join(d['criteria'])}"
                for n, d in catalog.index()["attacks"].items()
                if d["criteria"]
            )
        ),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option(help=f"zoo architecture of the weights: {catalog.help_list('models')}"),
    ] = None,
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
    knowledge: Annotated[
        str,
        typer.Option(
            help="param-dot/param-diff: what the attacker holds: "
            + "; ".join(f"{n}: {d['threat']}" for n, d in catalog.index()["knowledge"].items())
        ),
    ] = "kept",
    public_init: Annotated[
        Path | None,
        typer.Option(help="--knowledge public-init: the checkpoint the target was tuned from"),
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
    defence: Annotated[
        str | None,
        typer.Option(
            help="output hardening of the target's answers: "
            + catalog.help_list("defences", kind="outputs")
        ),
    ] = None,
    defence_set: Annotated[
        list[str] | None, typer.Option("--defence-set", help="a defence setting KEY=VALUE")
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
    catalog.check_dataset(dataset)
    catalog.check_attack(attack_name)
    if decider is not None:
        catalog.check_decider(decider, attack_name)
    if criterion is not None:
        catalog.check_criterion(attack_name, criterion)
    _checked(arch, catalog.check_model)
    _checked(defence, catalog.check_defence)
    catalog.check_knowledge(knowledge)
    from unleak.experiments.jobs import attack_model

    if json_out is not None:
        check_output(json_out, "file", "--json")
    params = parse_kv(set_, "--set")
    for key, value in (("unrelated", unrelated), ("query_budget", query_budget)):
        if value is not None:
            params[key] = value
    with err.status(f"{escape(attack_name)}: attacking"):
        outcome = attack_model(
            weights,
            attack=attack_name,
            dataset=dataset,
            decider=decider,
            criterion=criterion,
            params=params,
            arch=arch,
            model_def=model_def,
            model_args=parse_kv(model_arg, "--model-arg"),
            known_classes=known_classes,
            num_forgotten=num_forgotten,
            original=original,
            shadow=shadow,
            defence=defence,
            defence_settings=parse_kv(defence_set, "--defence-set"),
            data_root=data_root,
            knowledge=knowledge,
            public_init=public_init,
        )
    out.print(render.attack_table(outcome))
    result, names = outcome.result, outcome.data.class_names
    named = ", ".join(f"{c} ({names[c]})" for c in result.predicted) or "none"
    out.print(
        f"predicted forgotten: {escape(named)}   queries: {result.queries}   "
        f"calibration: {escape(result.calibration)}"
    )
    if json_out is not None:
        atomic_write_json(json_out, without_timings(result.to_dict()))


@app.command()
def methods() -> None:
    """List the unlearning methods, their named recipes (variants), defences and attacks."""
    out.print(render.catalogue())
