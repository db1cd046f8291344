"""The parameter attacks' knowledge modes (issue 23), on real digits models: what each mode hands
the attacker, what it computes, and that every run path (attack, harness, shadow, CLI) carries it.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import unleak as ul
from unleak import attacks as atk
from unleak.attacks.access import Weights
from unleak.attacks.class_aux import every_class
from unleak.errors import ConfigError


def _weights(model, data):
    return Weights(model, data.input_shape, data.num_classes)


def _run(name, mode, model, data, public=None):
    know = atk.Knowledge(
        task=data.name,
        known_data=every_class(data.test, 100, seed=0),
        mode=mode,
        public_init=public,
    )
    return atk.attack_class(name).prepare(know).run(_weights(model, data))


@pytest.mark.parametrize("name", ["param-dot", "param-diff"])
def test_per_class_auxiliaries_find_the_retrained_class_and_nothing_on_the_original(
    name, digits, digits_original, unlearned
):
    hit = _run(name, "per-class", unlearned["rt"], digits)
    assert hit.predicted == (3,)
    # the auxiliary that left class 3 out is the one the retrained model is closest to
    main = "dot" if name == "param-dot" else "diff"
    assert int(np.argmax(hit.features[main])) == 3
    assert _run(name, "per-class", digits_original.model, digits).predicted == ()
    assert hit.details["mode"] == "per-class"


def test_labelled_mode_reads_one_head_refit_and_the_rule_of_its_mode(digits, unlearned):
    res = _run("param-dot", "labelled", unlearned["rt"], digits)
    assert set(res.features) == {"dot", "diff"}
    assert int(np.argmax(res.features["dot"])) == 3  # the retrained row no longer points at 3
    attack = atk.attack_class("param-dot").prepare(
        atk.Knowledge(known_data=every_class(digits.test), mode="labelled")
    )
    assert attack.rule is atk.attack_class("param-dot").rules["labelled"]
    assert attack.decider.gap == attack.rule.constant


def test_public_init_compares_updates_from_the_checkpoint(digits, digits_original):
    # the owner fine-tunes a public checkpoint on retained data only: class 3 never learnt
    public = copy.deepcopy(digits_original.model)
    target = copy.deepcopy(public)
    retain, _ = digits.train.split_classes([3])
    ul.train(target, retain, digits_original.config.model_copy(update={"epochs": 2, "seed": 5}))
    init = atk.PublicInit(public, digits_original.config.model_copy(update={"epochs": 2}))
    res = _run("param-dot", "public-init", target, digits, init)
    assert len(res.features["dot"]) == 10 and np.isfinite(res.features["dot"]).all()
    assert -1.0 <= min(res.features["dot"]) <= max(res.features["dot"]) <= 1.0
    again = _run("param-diff", "public-init", target, digits, init)  # the same auxiliaries
    assert again.features == res.features


def test_kept_mode_is_todays_attack_and_param_diff_drops_labelled_samples(digits, unlearned):
    know = atk.Knowledge(task="digits", known_data=every_class(digits.test), mode="kept")
    diff = atk.attack_class("param-diff").prepare(know)
    assert diff.knowledge.known_data is None  # kept: unrelated inputs only
    assert diff.rule is atk.ParamDiff.rule
    res = diff.run(_weights(unlearned["rt"], digits))
    assert set(res.features) == {"diff", "diff_std", "gain"}


def test_bad_knowledge_is_refused_in_one_line(digits, unlearned):
    with pytest.raises(ConfigError, match="unknown knowledge mode 'all'"):
        atk.Knowledge(mode="all")
    partial = digits.test.per_class_sample(20, range(9), seed=0)  # no sample of class 9
    attack = atk.attack_class("param-dot").prepare(
        atk.Knowledge(known_data=partial, mode="per-class")
    )
    with pytest.raises(ConfigError, match=r"none of \[9\]"):
        attack.run(_weights(unlearned["rt"], digits))
    with pytest.raises(ConfigError, match="needs the public checkpoint"):
        _run("param-dot", "public-init", unlearned["rt"], digits)
    with pytest.raises(ConfigError, match="needs labelled samples of every class"):
        atk.attack_class("param-diff").prepare(atk.Knowledge(task="digits", mode="labelled"))


def test_the_harness_and_the_shadow_hand_out_every_class_in_the_modes(digits):
    from unleak.experiments.harness import AttackContext
    from unleak.experiments.settings import ExperimentConfig
    from unleak.experiments.shadow import shadow_knowledge

    cfg = ExperimentConfig(knowledge={"mode": "per-class"})
    know = AttackContext.of(cfg, digits, "cnn", 0, None).knowledge((3,))
    assert know.mode == "per-class" and know.known_classes == tuple(range(10))
    kept = AttackContext.of(ExperimentConfig(), digits, "cnn", 0, None).knowledge((3,))
    assert kept.mode == "kept" and 3 not in kept.known_classes
    shadow = shadow_knowledge(digits, (3,), 0, None, "labelled")
    assert shadow.mode == "labelled" and shadow.known_classes == tuple(range(10))
    with pytest.raises(ValueError, match="public-init needs the public checkpoint"):
        ExperimentConfig(knowledge={"mode": "public-init"})


def test_the_cli_attacks_under_a_mode(tmp_path, digits, unlearned, capsys):
    from unleak.cli import main
    from unleak.models.checkpoint import save

    path = save(unlearned["rt"], tmp_path / "rt", dataset="digits")
    with pytest.raises(SystemExit) as info:
        main(
            [
                "attack", "--weights", str(path), "--attack", "param-diff", "--knowledge",
                "per-class", "--json", str(tmp_path / "r.json"),
            ]
        )  # fmt: skip
    text, err = capsys.readouterr()
    assert info.value.code in (0, None), err
    assert "predicted forgotten: 3" in text
    assert json.loads((tmp_path / "r.json").read_text())["details"]["mode"] == "per-class"
