"""Pipeline steps shared by the CLI, the audit and sweeps: train an original model, unlearn one."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from unleak import data as data_mod
from unleak import models, recipes
from unleak.data.core import Dataset
from unleak.errors import ConfigError
from unleak.models.inference import accuracy
from unleak.training import Callback, History, TrainConfig, fit

log = logging.getLogger(__name__)


def train_config_for(
    dataset: Dataset, model: str, seed: int, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """The recipe's training configuration for ``dataset``/``model``, with ``overrides`` on top."""
    values = recipes.train_recipe(dataset.name, model, dataset.input_shape)
    values.update(overrides or {})
    values["seed"] = seed
    try:
        return TrainConfig(**values)
    except Exception as exc:  # pydantic's ValidationError: report the first problem in one line
        raise ConfigError(
            f"training configuration is invalid: {_first_error(exc)}", "fix that value"
        ) from exc


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors()[0]
        return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
    return str(exc).splitlines()[0]


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
    data = dataset if isinstance(dataset, Dataset) else data_mod.load(dataset, data_root)
    arch = model or recipes.default_model(data.name, data.input_shape)
    args = recipes.arch_args(data.name, arch, data.input_shape, arch_args)
    net = models.build(arch, data, seed=seed, **args)
    ov = dict(overrides or {})
    ov.setdefault("device", device)
    cfg = train_config_for(data, arch, seed, ov)
    n_epochs = math.ceil(cfg.epochs)
    recorded = min(record_epochs or n_epochs, n_epochs) if record_updates else 0
    if recorded and class_pure:
        cfg = cfg.model_copy(update={"class_pure_epochs": recorded})
    cbs = list(callbacks)
    recorder = None
    if record_updates:
        from unleak.unlearning.au import UpdateRecorder

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
                "train_seconds": result.seconds,
                "updates_recorded_epochs": recorded,
                "updates_class_pure": bool(recorded and class_pure),
            },
            tensors={"updates": result.updates.to_tensors()} if result.updates else None,
        )
    return result


def parse_forget(text: str | Sequence[int]) -> list[int]:
    """``"3,7"`` -> ``[3, 7]`` (validation against K happens where K is known)."""
    if not isinstance(text, str):
        return [int(c) for c in text]
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise ConfigError(
            f"forget set {text!r} is not a list of class indices", "write it like 3 or 3,7"
        ) from None


@dataclass
class UnlearnResult:
    run: Any  # unleak.unlearning.UnlearnRun
    efficacy: Any  # unleak.evaluation.Efficacy
    out: Path | None = None


def unlearn_checkpoint(
    checkpoint: str | os.PathLike[str],
    *,
    method: str,
    forget: str | Sequence[int],
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    reference: bool = True,
    callbacks: Sequence[Callback] = (),
    out: str | os.PathLike[str] | None = None,
) -> UnlearnResult:
    """Load a checkpoint, unlearn ``forget`` with ``method``, measure efficacy, optionally save.

    With ``reference``, ``rt`` is run on the same forget set too and its efficacy is attached.
    """
    from unleak.evaluation import efficacy
    from unleak.models.checkpoint import load_extra
    from unleak.unlearning import method_spec, run_unlearning
    from unleak.unlearning.au import UpdateLog

    method_spec(method)  # unknown names fail before any work
    meta = models.read_metadata(checkpoint)
    if not meta.dataset:
        raise ConfigError(
            f"{checkpoint} does not record its data set", "retrain it with `unleak train`"
        )
    data = data_mod.load(meta.dataset, data_root)
    original = models.load(checkpoint)
    if data.num_classes != meta.num_classes or data.input_shape != tuple(meta.input_shape):
        raise ConfigError(
            f"{checkpoint} expects {meta.num_classes} classes of {tuple(meta.input_shape)}, "
            f"{data.name} has {data.num_classes} of {data.input_shape}",
            "use the data set the checkpoint was trained on",
        )
    retain, forget_split = data.train.split_classes(parse_forget(forget))
    updates = None
    if method == "au":
        tensors = load_extra(checkpoint, "updates")
        if tensors is None:
            raise ConfigError(
                f"{checkpoint} has no recorded updates, which amnesiac unlearning (au) needs",
                "train the original with `unleak train --record-updates`",
            )
        updates = UpdateLog.from_tensors(tensors)
    original_config = TrainConfig(**meta.train_config) if meta.train_config else None
    common = dict(
        dataset=data.name, seed=seed, original_config=original_config, callbacks=callbacks
    )
    run = run_unlearning(
        method, original, retain, forget_split, overrides, updates=updates, **common
    )
    ref = None
    if reference and method != "rt":
        ref_run = run_unlearning("rt", original, retain, forget_split, None, **common)
        ref = efficacy(ref_run.model, data.test, run.forget)
    eff = efficacy(run.model, data.test, run.forget, reference=ref)
    if method == "rt":
        eff.reference = efficacy(run.model, data.test, run.forget)
    result = UnlearnResult(run, eff)
    if out is not None:
        from unleak._io import atomic_write_json, staged_dir

        with staged_dir(out) as tmp:
            models.save(
                run.model,
                tmp,
                dataset=data.name,
                seed=seed,
                train_config=meta.train_config,
                extra={"unlearning": run.describe(), "original": str(Path(checkpoint))},
            )
            atomic_write_json(Path(tmp) / "efficacy.json", eff.to_dict())
        result.out = Path(out)
    return result


def load_target_model(
    weights: str | os.PathLike[str],
    data: Dataset,
    *,
    arch: str | None = None,
    model_def: str | None = None,
    model_args: dict[str, Any] | None = None,
) -> nn.Module:
    """The model to attack: a checkpoint folder, zoo weights (``arch``) or a user class."""
    from unleak.models.checkpoint import load_state
    from unleak.models.userdef import load_user_model

    if arch and model_def:
        raise ConfigError("both --arch and --model-def given", "give one of them")
    if model_def:
        return load_user_model(model_def, weights, **(model_args or {}))
    if arch:
        folder = Path(weights).parent if Path(weights).suffix == ".safetensors" else Path(weights)
        meta_args: dict[str, Any] = {}
        if (folder / "model.json").is_file():
            meta = models.read_metadata(folder)
            if meta.arch != arch:
                raise ConfigError(
                    f"{folder} holds a {meta.arch}, not a {arch}", f"pass --arch {meta.arch}"
                )
            meta_args = dict(meta.arch_args)
        net = models.build(arch, data, seed=None, **{**meta_args, **(model_args or {})})
        file = weights if Path(weights).suffix == ".safetensors" else folder / "model.safetensors"
        return load_state(net, file).eval()
    return models.load(weights)


def make_attack(
    name: str,
    *,
    data: Dataset,
    decider: str | None = None,
    num_forgotten: int | None = None,
    known_classes: Sequence[int] | None = None,
    forgotten: Sequence[int] | None = None,
    params: dict[str, Any] | None = None,
    shadow: str | None = None,
    shadow_options: dict[str, Any] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> Any:
    """Build an attack for a target trained on ``data``, with the attacker data it may hold.

    ``param-dot`` gets labelled samples of ``known_classes`` (classes the attacker knows were
    retained) or, in an experiment where the truth is known, of half the classes outside
    ``forgotten``. ``oracle`` gets the test split (forbidden data: a bound). ``youden`` and ``tree``
    are calibrated on shadow experiments on ``shadow`` (never the target's own data set).
    """
    from unleak import attacks
    from unleak.attacks.base import attack_class

    cls = attack_class(name)
    p = dict(params or {})
    kwargs: dict[str, Any] = {}
    if name == "param-dot":
        if known_classes is not None:
            bad = sorted(set(known_classes) & set(forgotten or ()))
            if bad:
                raise ConfigError(
                    f"known classes {bad} are forgotten ones", "list retained classes only"
                )
            kwargs["attacker_data"] = data.train.per_class_sample(100, known_classes, seed=seed)
        elif forgotten is not None:
            kwargs["attacker_data"] = attacks.attacker_split(
                data.train, tuple(forgotten), seed=seed
            )
        else:
            raise ConfigError(
                "param-dot needs to know which classes the attacker holds data of",
                "pass --known-classes with some classes you know were retained",
            )
    if name == "oracle":
        kwargs["labelled_data"] = data.test
    if name in ("param-diff",):
        p.setdefault("dataset", data.name)
    if name in ("param-diff", "before-after") and data_root is not None:
        p.setdefault("data_root", str(data_root))
    dec = decider or cls.default_decider
    calibration = None
    if dec in ("youden", "tree"):
        probe = cls(cls.default_decider, num_forgotten=num_forgotten, **kwargs, **p)
        shadow_name = shadow or ("digits" if data.name != "digits" else None)
        if shadow_name is None:
            raise ConfigError(
                f"the {dec} decider is calibrated on shadow experiments, on a data set other than "
                "the target's",
                "pass --shadow NAME (e.g. mnist or fashion-mnist) or use kmeans",
            )
        calibration = attacks.shadow_calibration(
            probe,
            dataset=shadow_name,
            target_dataset=data.name,
            data_root=data_root,
            **(shadow_options or {}),
        )
    return cls(dec, num_forgotten=num_forgotten, calibration=calibration, **kwargs, **p)
