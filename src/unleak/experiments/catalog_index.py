"""Writes ``unleak/catalog.json``, the torch-free index of every registry (see
:mod:`unleak.catalog`), from the registries themselves.

    python -m unleak.experiments.catalog_index          # rewrite the shipped file
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from unleak import attacks as atk
from unleak import catalog, data, models
from unleak.attacks.deciders import DECIDERS
from unleak.defences import defence_class, defence_names
from unleak.unlearning import method_names, method_spec

PATH = Path(catalog.__file__).with_name("catalog.json")


def build() -> dict[str, dict[str, dict[str, Any]]]:
    """The index as the registries of this process hold it."""
    attacks = {}
    for name in atk.attack_names():
        cls = atk.attack_class(name)
        attacks[name] = {
            "label": cls.label or name,
            "baseline": cls.baseline,
            "access": cls.requires.name.lower(),
            "threat": cls.threat,
            "deciders": list(cls.deciders),
            "default_decider": cls.default_decider,
            "criteria": list(cls.criteria),
        }
    methods = {
        name: {
            "description": method_spec(name).description,
            "needs_updates": method_spec(name).needs_updates,
        }
        for name in method_names(builtin=True)
    }
    defences = {
        name: {"kind": defence_class(name).kind, "description": defence_class(name).description}
        for name in defence_names()
    }
    deciders = {
        name: {"description": cls.description, "calibrated": cls.needs_calibration}
        for name, cls in sorted(DECIDERS.items())
    }
    archs = {
        name: {"description": models.zoo.arch_spec(name).description}
        for name in models.zoo.arch_names()
    }
    datasets = {name: {"description": data.spec(name).description} for name in data.names()}
    knowledge = {name: {"threat": threat} for name, threat in atk.MODES.items()}
    return {
        "attacks": attacks,
        "methods": methods,
        "defences": defences,
        "deciders": deciders,
        "models": archs,
        "datasets": datasets,
        "knowledge": knowledge,
    }


def render() -> str:
    return json.dumps(build(), indent=1, sort_keys=True) + "\n"


def main() -> None:
    PATH.write_text(render(), encoding="utf-8")
    sys.stderr.write(f"wrote {PATH}\n")


if __name__ == "__main__":
    main()
