"""The one-model jobs behind ``unleak train``, ``unleak unlearn`` and ``unleak attack``.

Each is one library function the CLI calls and renders: :func:`train_original`,
:func:`unlearn_checkpoint`, :func:`attack_model`. (``unleak audit`` and ``unleak sweep`` have
modules of their own.)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from unleak import attacks as atk
from unleak import data as data_mod
from unleak import models, recipes
from unleak._io import atomic_write_json, check_output, staged_dir
from unleak.data.core import Dataset, parse_classes
from unleak.defences import build_defence
from unleak.errors import ConfigError
from unleak.evaluation import Efficacy
from unleak.experiments.attackers import attacker_knowledge, build_attack, handle
from unleak.experiments.cases import defended_case, original_of, unlearned_case
from unleak.experiments.environment import environment
from unleak.experiments.model_cache import ModelCache, train_config_for
from unleak.experiments.settings import CALIBRATED, DEFAULT_SHADOW, AttackSpec, check_shadow
from unleak.experiments.shadow import shadow_calibration
from unleak.models.checkpoint import load_state
from unleak.models.inference import accuracy
from unleak.models.userdef import load_user_model
from unleak.training import Callback, History, TrainConfig, check_seed, fit
from unleak.unlearning import method_spec
from unleak.unlearning.au import UpdateRecorder

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- train


@dataclass
class TrainResult:
    model: nn.Module
    dataset: str
    arch: str
    config: TrainConfig
    history: History
    train_acc: float
    test_acc: float
    seconds: float
    updates: Any = None
    out: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def train_original(
    *,
    dataset: str | Dataset = "digits",
    model: str | None = None,
    seed: int = 0,
    data_root: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    arch_args: dict[str, Any] | None = None,
    record_updates: bool = False,
    record_epochs: int | None = None,
    class_pure: bool = False,
    device: str = "cpu",
    callbacks: Sequence[Callback] = (),
    out: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train the owner's original model with the recipe for its data set; optionally save it.

    ``record_updates`` records the parameter update of every batch, summed per set of classes in
    the batch, for amnesiac unlearning (``au``): of all epochs, or of the last ``record_epochs``;
    ``class_pure`` makes those epochs use single-class batches (see ``unleak.unlearning.au``).
    """
    check_seed(seed)
    if out is not None:
        check_output(out, "dir", "--out")
    data = dataset if isinstance(dataset, Dataset) else data_mod.load(dataset, data_root)
    arch = model or recipes.default_model(data.name, data.input_shape)
    args = recipes.arch_args(data.name, arch, data.input_shape, arch_args)
    net = models.build(arch, data, seed=seed, **args)
    ov = dict(overrides or {})
    ov.setdefault("device", device)
    cfg = train_config_for(data, arch, seed, ov)
    n_epochs = math.ceil(cfg.epochs)
    if record_epochs is not None and not 1 <= record_epochs <= max(n_epochs, 1):
        raise ConfigError(
            f"--record-epochs {record_epochs} with {n_epochs} epochs of training",
            f"record between 1 and {max(n_epochs, 1)} epochs",
        )
    recorded = min(record_epochs or n_epochs, n_epochs) if record_updates else 0
    if recorded and class_pure:
        cfg = cfg.model_copy(update={"class_pure_epochs": recorded})
    cbs = list(callbacks)
    recorder = None
    if record_updates:
        recorder = UpdateRecorder(from_epoch=n_epochs - recorded)
        cbs.append(recorder)
    run = fit(net, data.train, cfg, callbacks=cbs, eval_data=data.test)
    net.cpu()
    result = TrainResult(
        model=net,
        dataset=data.name,
        arch=arch,
        config=cfg,
        history=run.history,
        train_acc=accuracy(net, data.train.x, data.train.y),
        test_acc=accuracy(net, data.test.x, data.test.y),
        seconds=run.history.seconds,
        updates=recorder.log() if recorder else None,
    )
    if out is not None:
        result.out = models.save(
            net,
            out,
            dataset=data.name,
            seed=seed,
            train_config=cfg.model_dump(),
            extra={
                "train_accuracy": result.train_acc,
                "test_accuracy": result.test_acc,
                "updates_recorded_epochs": recorded,
                "updates_class_pure": bool(recorded and class_pure),
            },
            tensors={"updates": result.updates.to_tensors()} if result.updates else None,
        )
        write_run_record(out, {"train_seconds": result.seconds})
    return result


def write_run_record(out: str | os.PathLike[str], timings: dict[str, Any]) -> None:
    """``out/run.json``: when and how fast, on what; kept apart from the results, which the seed
    alone determines."""
    atomic_write_json(Path(out) / "run.json", {**environment(), **timings})


# --------------------------------------------------------------------------- unlearn


@dataclass
class UnlearnResult:
    model: nn.Module
    method: str
    forget: tuple[int, ...]
    efficacy: Efficacy  # with rt's beside it when a reference was run
    run: dict[str, Any]  # method, forget set, settings, seconds, why it stopped
    out: Path | None = None

    @property
    def seconds(self) -> float:
        return float(self.run.get("seconds") or 0.0)


def unlearn_checkpoint(
    checkpoint: str | os.PathLike[str],
    *,
    method: str,
    forget: str | Sequence[int],
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    reference: bool = True,
    defence: str | None = None,
    defence_settings: dict[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    out: str | os.PathLike[str] | None = None,
) -> UnlearnResult:
    """Load a checkpoint, unlearn ``forget`` with ``method``, measure efficacy, optionally save.

    With ``reference``, ``rt`` is run on the same forget set too and its efficacy is attached.
    ``defence`` (a weights defence such as ``decoy``) is applied to the unlearned model; the
    efficacy is then the defended model's, with the undefended one under ``before_defence``.
    """
    method_spec(method)  # unknown names fail before any work
    check_seed(seed)
    if out is not None:
        check_output(out, "dir", "--out")
    guard = None
    if defence is not None:
        guard = build_defence(defence, **(defence_settings or {}))
        if guard.kind != "weights":
            raise ConfigError(
                f"{defence} hardens the query interface, it does not change a model",
                "give it to `unleak attack --defence` or an audit's defences",
            )
    if out is not None and Path(out).resolve() == _folder(checkpoint).resolve():
        raise ConfigError(
            f"--out {out} is the original's own folder", "write the unlearned model elsewhere"
        )
    meta = models.read_metadata(checkpoint)
    if not meta.dataset:
        raise ConfigError(
            f"{checkpoint} does not record its data set", "retrain it with `unleak train`"
        )
    data = data_mod.load(meta.dataset, data_root)
    classes = parse_classes(forget, data.num_classes)
    cache = ModelCache(enabled=False)
    original = original_of(cache, data, meta.arch, seed, checkpoint=checkpoint, methods=[method])
    case = unlearned_case(
        cache,
        original,
        data,
        method,
        classes,
        seed,
        overrides=overrides,
        reference=reference,
        callbacks=callbacks,
    )
    if guard is not None:
        case = defended_case(case, guard, data, seed + 3)
        case.run["defence"] = guard.describe()
    eff = Efficacy.from_dict(case.efficacy)
    result = UnlearnResult(case.model, method, case.forget, eff, case.run)
    if out is not None:
        with staged_dir(out) as tmp:
            models.save(
                case.model,
                tmp,
                dataset=data.name,
                seed=seed,
                train_config=meta.train_config,
                extra={"unlearning": case.run, "original": str(Path(checkpoint))},
            )
            atomic_write_json(Path(tmp) / "efficacy.json", eff.to_dict())
            write_run_record(tmp, {"unlearn_seconds": result.seconds})
        result.out = Path(out)
    return result


def _folder(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.parent if p.suffix in (".safetensors", ".json") else p


# --------------------------------------------------------------------------- attack


def load_target_model(
    weights: str | os.PathLike[str],
    data: Dataset,
    *,
    arch: str | None = None,
    model_def: str | None = None,
    model_args: dict[str, Any] | None = None,
) -> nn.Module:
    """The model to attack: a checkpoint folder, zoo weights (``arch``) or a user class."""
    if arch and model_def:
        raise ConfigError("both --arch and --model-def given", "give one of them")
    if model_def:
        return load_user_model(
            model_def,
            weights,
            input_shape=data.input_shape,
            num_classes=data.num_classes,
            **(model_args or {}),
        )
    folder = _folder(weights)
    if arch:
        meta_args: dict[str, Any] = {}
        if (folder / "model.json").is_file():
            meta = models.read_metadata(folder)
            if meta.arch != arch:
                raise ConfigError(
                    f"{folder} holds a {meta.arch}, not a {arch}", f"pass --arch {meta.arch}"
                )
            meta_args = dict(meta.arch_args)
        net = models.build(arch, data, seed=None, **{**meta_args, **(model_args or {})})
        file = weights if Path(weights).is_file() else folder / "model.safetensors"
        return load_state(net, file).eval()
    path = Path(weights)
    if path.is_file() and not (folder / "model.json").is_file():
        raise ConfigError(
            f"{path} is a weights file with no architecture beside it",
            "give your model class with --model-def PATH.py:CLASS (or a zoo model with --arch)",
        )
    meta = models.read_metadata(folder)
    if tuple(meta.input_shape) != data.input_shape or meta.num_classes != data.num_classes:
        raise ConfigError(
            f"{folder} holds a model of {meta.num_classes} classes of {tuple(meta.input_shape)}, "
            f"{data.name} has {data.num_classes} of {data.input_shape}",
            "give the data set the model was trained on (--dataset)",
        )
    return models.load(folder)


@dataclass
class AttackOutcome:
    """An attack's result on one model, and the data set whose class names it speaks of."""

    result: atk.AttackResult
    data: Dataset
    weights: str


def attack_model(
    weights: str | os.PathLike[str],
    *,
    attack: str = "param-diff",
    dataset: str = "digits",
    decider: str | None = None,
    criterion: str | None = None,
    params: dict[str, Any] | None = None,
    arch: str | None = None,
    model_def: str | None = None,
    model_args: dict[str, Any] | None = None,
    known_classes: str | Sequence[int] | None = None,
    num_forgotten: int | None = None,
    original: str | os.PathLike[str] | None = None,
    shadow: str | None = None,
    defence: str | None = None,
    defence_settings: dict[str, Any] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    seed: int = 0,
    knowledge: str = atk.knowledge.DEFAULT_MODE,
    public_init: str | os.PathLike[str] | None = None,
) -> AttackOutcome:
    """Attack one model (a checkpoint, zoo weights or your own class) with one attack.

    The attacker gets exactly the knowledge the attack declares: ``known_classes`` (classes you
    know were retained) become labelled samples of those classes for ``param-dot``; ``oracle``
    gets the test split (forbidden data: a bound); calibrated deciders (``youden``, ``tree``) run
    shadow experiments on ``shadow``, never on the target's data set. ``defence`` names the
    output hardening of the target's query interface (``top-k``, ``round``, ``label-only``).
    ``knowledge`` is the parameter attacks' knowledge mode (``unleak.attacks.MODES``): the modes
    that hold every class get 100 test samples of each; ``public-init`` also needs
    ``public_init``, the checkpoint the target was fine-tuned from.
    """
    atk.knowledge.check_mode(knowledge)
    if (knowledge == "public-init") != (public_init is not None):
        raise ConfigError(
            "--public-init goes with --knowledge public-init, and that mode needs it",
            "give both (the checkpoint your target was fine-tuned from), or neither",
        )
    spec = AttackSpec(attack=attack, decider=decider, criterion=criterion, params=params or {})
    hardening = None
    if defence is not None:
        hardening = build_defence(defence, **(defence_settings or {}))
        if hardening.kind != "outputs":
            raise ConfigError(
                f"{defence} changes a model's weights; the model you attack already holds them",
                "give an output hardening (top-k, round, label-only), or apply the defence with "
                "`unleak unlearn --defence`",
            )
    cls = spec.attack_class
    data = data_mod.load(dataset, data_root)
    if num_forgotten is not None and not 1 <= num_forgotten < data.num_classes:
        raise ConfigError(
            f"--num-forgotten {num_forgotten} with {data.num_classes} classes",
            f"give a number from 1 to {data.num_classes - 1}",
        )
    known = (
        None
        if known_classes is None
        else parse_classes(known_classes, data.num_classes, "set of known classes")
    )

    def load(path: str | os.PathLike[str]) -> nn.Module:
        return load_target_model(path, data, arch=arch, model_def=model_def, model_args=model_args)

    target_model = load(weights)
    original_model = load(original) if original is not None else None
    init = None
    if public_init is not None:  # fine-tuned again with the data set's recipe
        init = atk.PublicInit(load(public_init), train_config_for(data, arch or "custom", seed))
    know = attacker_knowledge(data, knowledge, known, init, seed, data_root)
    calibration = None
    if spec.decider_name in CALIBRATED:
        calibration = shadow_calibration(
            spec.model_copy(update={"decider": None}),
            dataset=check_shadow(shadow or DEFAULT_SHADOW, data.name),
            target_dataset=data.name,
            data_root=data_root,
            mode=knowledge,
        )
    attack_obj = build_attack(spec, know, num_forgotten=num_forgotten, calibration=calibration)
    budget = attack_obj.query_budget(atk.DEFAULT_QUERY_BUDGET)
    target = handle(cls.requires, target_model, data, budget, hardening)
    orig = handle(cls.requires, original_model, data, budget, hardening) if original_model else None
    result = attack_obj.run(target, original=orig)
    return AttackOutcome(result, data, str(weights))
