"""Named recipes (``METHOD@VARIANT``) on real digits: each lands in its documented forget-accuracy
band (recipes.yaml ``variants:``), and the names work wherever a method name does."""

from __future__ import annotations

import numpy as np
import pytest

from unleak import recipes
from unleak.errors import ConfigError
from unleak.evaluation import efficacy
from unleak.unlearning import config_for, method_names, run_unlearning, variant_names


def test_variants_are_named_recipes_of_registered_methods():
    assert {"ng@chance", "ft@partial", "rl@all"} <= set(variant_names())
    assert set(variant_names()) <= set(method_names(variants=True))
    cfg = config_for("rl@all", "digits")
    assert cfg.label_pool == "all" and cfg.epochs == config_for("rl", "digits").epochs
    assert config_for("ng@chance", "digits").early_stop
    assert not config_for("ng", "digits").early_stop
    with pytest.raises(ConfigError, match="unknown unlearning method 'ng@never'"):
        config_for("ng@never", "digits")


@pytest.mark.parametrize(
    "variant",
    [
        "ng@chance",
        "ft@partial",
        "rl@all",
        "scrub@authors",
        "salun@authors",
        "l1-sparse@authors",
        "boundary-shrink@authors",
    ],
)
def test_each_variant_lands_in_its_band(digits, digits_original, variant):
    info = recipes.variants()[variant]
    lo, hi = info["forget_acc"]
    over_mean = "mean" in info.get("band_over", "")
    classes = range(10) if over_mean else (3, 7)
    accs = []
    for c in classes:
        retain, forget = digits.train.split_classes([c])
        run = run_unlearning(
            variant,
            digits_original.model,
            retain,
            forget,
            dataset="digits",
            seed=1,
            original_config=digits_original.config,
        )
        assert run.method == variant
        accs.append(efficacy(run.model, digits.test, [c]).forget_acc)
    values = [float(np.mean(accs))] if over_mean else accs
    for v in values:
        assert lo <= v <= hi, f"{variant}: forget accuracy {accs} outside [{lo}, {hi}]"
