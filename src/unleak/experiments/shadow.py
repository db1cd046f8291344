"""Shadow experiments: calibration the attacker can run on its own.

The attacker trains models on data it owns (by default the embedded ``digits``, or another data
set of its choice), unlearns classes it picks itself with the methods under study, adds null
models that forgot nothing, and records the attack's evidence on each. ``youden`` and ``tree``
learn their thresholds from those runs. The target's own data never enters: the calibration source
is named in every result.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from unleak import attacks as atk
from unleak import data as data_mod
from unleak import recipes
from unleak.attacks.class_aux import every_class
from unleak.attacks.param_dot import attacker_split
from unleak.data.core import random_forget_sets
from unleak.experiments.attackers import build_attack, handle
from unleak.experiments.cases import null_case, original_of
from unleak.experiments.model_cache import ModelCache
from unleak.experiments.settings import DEFAULT_METHODS, DEFAULT_SHADOW, AttackSpec, check_shadow

log = logging.getLogger(__name__)


def shadow_knowledge(
    shadow: data_mod.Dataset,
    forget: tuple[int, ...],
    seed: int,
    data_root: str | os.PathLike[str] | None,
    mode: str = atk.knowledge.DEFAULT_MODE,
) -> atk.Knowledge:
    """What the attacker holds on its own shadow model: its own data, so it knows everything; the
    attack still only reads the fields it declares (under ``mode``, as on the target)."""
    kept = mode == atk.knowledge.DEFAULT_MODE
    return atk.Knowledge(
        task=shadow.name,
        known_data=(
            attacker_split(shadow.train, forget, seed=seed + len(forget))
            if kept
            else every_class(shadow.test, seed=seed)
        ),
        labelled_data=shadow.test,
        data_root=None if data_root is None else str(data_root),
        mode=mode,
        seed=seed,
        shadow=True,
    )


def shadow_calibration(
    spec: AttackSpec | str,
    *,
    dataset: str = DEFAULT_SHADOW,
    model: str | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    sizes: Sequence[int] = (1, 2),
    per_size: int = 5,
    seeds: Sequence[int] = (0,),
    null_kinds: Sequence[str] = ("original", "rt", "ft", "au"),
    max_sets: int | None = None,
    target_dataset: str | None = None,
    data_root: str | os.PathLike[str] | None = None,
    cache_root: str | os.PathLike[str] | None = None,
    mode: str = atk.knowledge.DEFAULT_MODE,
) -> atk.Calibration:
    """Run the attack of ``spec`` on shadow models of ``dataset``; collect evidence with the truth.

    Shadow models are cached, so a second calibration is cheap.
    """
    spec = AttackSpec.model_validate(spec)
    if target_dataset is not None:
        check_shadow(dataset, target_dataset)
    shadow = data_mod.load(dataset, data_root)
    arch = model or recipes.default_model(shadow.name)
    cache = ModelCache(cache_root)
    cls = spec.attack_class
    params_seed = int(spec.params.get("seed", 0))
    cal = atk.Calibration(
        source=(
            f"shadow:{shadow.name}/{arch} methods={','.join(methods)} "
            f"sizes={','.join(map(str, sizes))} "
            f"seeds={','.join(map(str, seeds))} nulls={','.join(null_kinds)}"
            + ("" if mode == atk.knowledge.DEFAULT_MODE else f" knowledge={mode}")
        )
    )

    def evidence(net: object, forget: tuple[int, ...], seed: int) -> atk.ClassFeatures:
        know = shadow_knowledge(shadow, forget, params_seed, data_root, mode)
        attack = build_attack(
            spec, know, num_forgotten=len(forget) or 1, decider=cls.default_decider
        )
        target = handle(cls.requires, net, shadow, attack.query_budget())  # type: ignore[arg-type]
        return attack.evidence(target)

    for seed in seeds:
        orig = original_of(cache, shadow, arch, seed, methods=methods)
        for kind in null_kinds:
            case = null_case(cache, orig, shadow, kind, seed)
            cal.runs.append((evidence(case.model, (), seed), ()))
        for forget in random_forget_sets(shadow.num_classes, sizes, per_size, seed)[:max_sets]:
            for method in methods:
                net, _ = cache.unlearned(orig, shadow, method, forget, seed + 1)
                cal.runs.append((evidence(net, forget, seed), forget))
    log.info(
        "calibration %s: %d shadow runs, %d models trained",
        cal.source,
        len(cal.runs),
        cache.trained,
    )
    return cal
