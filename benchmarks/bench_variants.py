"""The variants we tried before settling on the defaults, measured on the same models.

Unlearning: fine-tuning learning rates, amnesiac recording schemes, pure against bounded negative
gradient. Attacks: param-diff's main score and unrelated sources, param-dot whitening, auxiliary
recipes (head-refit, finetune, independent), white-box inversion's search space.

    python -m benchmarks.run variants      (benchmarks/results/variants.json)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import unleak as ul
from benchmarks.common import DATA_ROOT, ROOT, save
from unleak import recipes
from unleak.attacks.deciders import make_decider
from unleak.attacks.evidence import ClassFeatures
from unleak.evaluation import efficacy
from unleak.experiments.jobs import train_original
from unleak.experiments.model_cache import ModelCache
from unleak.unlearning import run_unlearning

METHODS = ("rt", "ft", "rl", "au", "ng")
TARGETS = {"digits": (0, 3, 5, 8, 9), "mnist": (1, 3, 6, 9)}
NULLS = ("original", "rt", "ft", "au")


def unlearning_variants() -> list[dict[str, Any]]:
    out = []
    for dataset, lrs in (("digits", (0.05, 0.2, 0.5)), ("mnist", (0.05, 0.1, 0.2))):
        data = ul.data.load(dataset, DATA_ROOT)
        res = train_original(dataset=data, seed=0, record_updates=True)
        pure_tail = train_original(
            dataset=data, seed=0, record_updates=True, record_epochs=1, class_pure=True
        )
        for c in TARGETS[dataset][:3]:
            retain, forget = data.train.split_classes([c])
            variants: list[tuple[str, str, Any, dict[str, Any]]] = [
                (f"ft lr={lr}", "ft", res, {"lr": lr}) for lr in lrs
            ]
            variants += [
                ("au: every batch recorded (default)", "au", res, {}),
                ("au: last epoch, class-pure batches", "au", pure_tail, {}),
                ("ng: bounded ascent + retain term (default)", "ng", res, {}),
                (
                    "ng: pure ascent, stop at chance",
                    "ng",
                    res,
                    {
                        "ascent_on": "all",
                        "retain_weight": 0.0,
                        "early_stop": True,
                        "check_every": 1,
                    },
                ),
            ]
            before = efficacy(res.model, data.test, [c])
            for label, method, orig, overrides in variants:
                try:
                    run = run_unlearning(
                        method,
                        orig.model,
                        retain,
                        forget,
                        overrides,
                        dataset=dataset,
                        seed=1,
                        updates=orig.updates,
                        original_config=orig.config,
                    )
                    e = efficacy(run.model, data.test, [c])
                    out.append(
                        {
                            "dataset": dataset,
                            "class": c,
                            "variant": label,
                            "forget_acc": e.forget_acc,
                            "retain_acc": e.retain_acc,
                            "original_retain_acc": before.retain_acc,
                            "seconds": run.seconds,
                        }
                    )
                except ul.UnleakError as exc:
                    out.append(
                        {"dataset": dataset, "class": c, "variant": label, "error": str(exc)}
                    )
    return out


def _targets(dataset: str) -> tuple[Any, list[tuple[str, tuple[int, ...], torch.nn.Module]]]:
    store = ModelCache(ROOT / "runs" / "bench-cache")
    data = ul.data.load(dataset, DATA_ROOT)
    orig = store.original(data, recipes.default_model(dataset), 0)
    models = [(f"null-{k}", (), store.null(orig, data, k, 2)) for k in NULLS]
    for c in TARGETS[dataset]:
        for m in METHODS:
            models.append((m, (c,), store.unlearned(orig, data, m, (c,), 1)[0]))
    return data, models


def _score(feats_list: list[tuple[str, tuple[int, ...], ClassFeatures]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dname in ("kmeans", "gap", "threshold", "topm"):
        hits, fps = [], []
        for _, forgotten, feats in feats_list:
            if dname == "topm" and not forgotten:
                continue
            dec = make_decider(dname, num_forgotten=len(forgotten) or None)
            pred = set(dec.decide(feats)[0])
            (hits if forgotten else fps).append(pred == set(forgotten) if forgotten else bool(pred))
        out[dname] = {"asr": float(np.mean(hits)), "fpr": float(np.mean(fps)) if fps else None}
    return out


Variant = Callable[[torch.nn.Module, tuple[int, ...]], ClassFeatures]


def diff_variant(dataset: str, unrelated: str, main: str = "reach", **kw: Any) -> Variant:
    def run(net: torch.nn.Module, forgotten: tuple[int, ...]) -> ClassFeatures:
        atk = ul.attacks.build(
            "param-diff",
            unrelated=unrelated,
            knowledge=ul.attacks.Knowledge(task=dataset, data_root=str(DATA_ROOT)),
            cache=False,
            **kw,
        )
        f = atk.evidence(ul.attacks.Weights(net))
        if main != "reach":
            f = dataclasses.replace(f, main=f.names.index(main), absolute=None)
        return f

    return run


def dot_variant(data: Any, **kw: Any) -> Variant:
    def run(net: torch.nn.Module, forgotten: tuple[int, ...]) -> ClassFeatures:
        split = ul.attacks.attacker_split(data.train, forgotten, seed=len(forgotten))
        know = ul.attacks.Knowledge(known_data=split)
        atk = ul.attacks.build("param-dot", knowledge=know, cache=False, **kw)
        return atk.evidence(ul.attacks.Weights(net))

    return run


def wb_variant(data: Any, **kw: Any) -> Variant:
    def run(net: torch.nn.Module, forgotten: tuple[int, ...]) -> ClassFeatures:
        t = ul.attacks.Gradients(net, data.input_shape, data.num_classes)
        return ul.attacks.build("wb-inversion", **kw).evidence(t)

    return run


def attack_variants() -> list[dict[str, Any]]:
    out = []
    for dataset in TARGETS:
        data, models = _targets(dataset)
        mix = "noise+blur+strokes" + ("+fashion-mnist" if dataset == "mnist" else "")
        variants: list[tuple[str, Variant]] = [
            (f"param-diff: reach, {mix} (default)", diff_variant(dataset, mix)),
            (
                "param-diff: head-refit row change (diff) as the score",
                diff_variant(dataset, mix, "diff"),
            ),
            ("param-diff: reach, noise only", diff_variant(dataset, "noise")),
            (
                "param-diff: finetune recipe, diff score",
                diff_variant(dataset, mix, "diff", recipe="finetune", n_aux=1),
            ),
            (
                "param-diff: independent recipe, diff score",
                diff_variant(dataset, mix, "diff", recipe="independent", n_aux=1),
            ),
            ("param-dot: head-refit (default)", dot_variant(data)),
            ("param-dot: whitened features", dot_variant(data, whiten=True)),
            ("param-dot: finetune recipe", dot_variant(data, recipe="finetune", n_aux=1)),
            ("param-dot: independent recipe", dot_variant(data, recipe="independent", n_aux=1)),
            ("wb-inversion: 7x7 grid, 8 noise restarts, 60 steps (default)", wb_variant(data)),
            (
                "wb-inversion: pixels, grey start, 2 restarts, 30 steps",
                wb_variant(data, grid=None, start="grey", restarts=2, steps=30),
            ),
            ("wb-inversion: pixels, 8 noise restarts, 60 steps", wb_variant(data, grid=None)),
        ]
        if dataset == "mnist":
            variants.insert(
                2, ("param-diff: reach, fashion-mnist only", diff_variant(dataset, "fashion-mnist"))
            )
        for label, fn in variants:
            t0 = time.perf_counter()
            feats = [(name, f, fn(net, f)) for name, f, net in models]
            out.append(
                {
                    "dataset": dataset,
                    "variant": label,
                    "models": len(models),
                    "seconds": round(time.perf_counter() - t0, 1),
                    **_score(feats),
                }
            )
    return out


def main() -> None:
    save(
        "variants",
        {
            "command": "python -m benchmarks.run variants",
            "unlearning": unlearning_variants(),
            "attacks": attack_variants(),
        },
    )


if __name__ == "__main__":
    main()
