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

from unleak.attacks.access import Weights
from unleak.attacks.base import Attack
from unleak.attacks.deciders import Calibration
from unleak.data.core import random_forget_sets

log = logging.getLogger(__name__)

DEFAULT_METHODS = ("rt", "ft", "rl", "au", "ng")


def shadow_calibration(
    attack: Attack,
    *,
    dataset: str = "digits",
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
) -> Calibration:
    """Run ``attack`` on shadow models of ``dataset`` and collect its evidence with the truth.

    ``attack.for_shadow`` adapts the attack to each shadow (``param-dot`` needs attacker data of
    the shadow's retained classes). Shadow models are cached, so a second calibration is cheap.
    """
    from unleak import data as data_mod
    from unleak import recipes
    from unleak.errors import ConfigError
    from unleak.experiments.store import ModelStore

    if target_dataset is not None and dataset == target_dataset:
        raise ConfigError(
            f"shadow experiments on {dataset!r}, the target's own data set",
            "calibrate on data the attacker owns: another data set (--shadow NAME)",
        )

    shadow = data_mod.load(dataset, data_root)
    arch = model or recipes.default_model(shadow.name)
    store = ModelStore(cache_root)
    adapt = attack.for_shadow
    cal = Calibration(
        source=(
            f"shadow:{shadow.name}/{arch} methods={','.join(methods)} "
            f"sizes={','.join(map(str, sizes))} "
            f"seeds={','.join(map(str, seeds))} nulls={','.join(null_kinds)}"
        )
    )
    for seed in seeds:
        orig = store.original(shadow, arch, seed)
        for kind in null_kinds:
            net = store.null(orig, shadow, kind, seed)
            cal.runs.append((adapt(shadow, ()).evidence(Weights(net)), ()))
        for forget in random_forget_sets(shadow.num_classes, sizes, per_size, seed)[:max_sets]:
            for method in methods:
                net, _ = store.unlearned(orig, shadow, method, forget, seed + 1)
                cal.runs.append((adapt(shadow, forget).evidence(Weights(net)), forget))
    log.info(
        "calibration %s: %d shadow runs, %d models trained",
        cal.source,
        len(cal.runs),
        store.trained,
    )
    return cal
