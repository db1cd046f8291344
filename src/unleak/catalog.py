"""What can run, by name, without importing torch: the index the command line reads.

``catalog.json`` beside this file lists every registered attack, unlearning method, defence,
decider, architecture and data set with its one-line help. It is written from the registries
themselves (``python -m unleak.experiments.catalog_index``) and ``tests/test_cli_startup.py``
fails when it no longer matches them, so the command line can answer ``--help`` and refuse a
misspelt name in a fraction of a second, with the very message the registry would give.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from unleak import recipes
from unleak.errors import ConfigError, unknown_name

KINDS = ("attacks", "methods", "defences", "deciders", "models", "datasets", "knowledge")
FILE_DATA = ("npz:", "folder:")  # data given as files, not by name


@functools.cache
def index() -> dict[str, dict[str, dict[str, Any]]]:
    """The whole index: kind -> name -> what the registry says of it."""
    text = resources.files("unleak").joinpath("catalog.json").read_text(encoding="utf-8")
    return json.loads(text)


def names(kind: str, /, **match: Any) -> list[str]:
    """Registered names of ``kind`` (one of :data:`KINDS`), sorted; ``match`` keeps the entries
    with those values (``names("defences", kind="weights")``)."""
    entries = index()[kind]
    return sorted(n for n, e in entries.items() if all(e.get(k) == v for k, v in match.items()))


def help_list(kind: str, /, *, extra: tuple[str, ...] = (), **match: Any) -> str:
    """``"a, b or c"``: the names of ``kind`` (filtered by ``match``) for an option's help."""
    items = [*names(kind, **match), *extra]
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else "".join(items)


def leakage_labels(labels: list[str]) -> list[str]:
    """The labels of a leakage table: each attack at its rule (no top-m reading, which is told
    how many classes were forgotten, and no baseline), then chance."""
    attacks = index()["attacks"]

    def baseline(label: str) -> bool:
        return bool(attacks.get(label.split("/")[0].split("[")[0], {}).get("baseline"))

    kept = [lab for lab in dict.fromkeys(labels) if not lab.endswith("/topm") and not baseline(lab)]
    return kept + [lab for lab in dict.fromkeys(labels) if lab.startswith("chance")]


def short_label(label: str) -> str:
    """Compact name of a result label from the attack's registered short label:
    ``wb-inversion[entropy]/threshold`` -> ``wb entropy`` (its default decider is left out)."""
    attack, _, decider = label.partition("/")
    attack, _, criterion = attack.partition("[")
    info = index()["attacks"].get(attack)
    # an attack no longer (or not yet) in the index: its own name
    name, default = (info["label"], info["default_decider"]) if info else (attack, "")
    parts = [name, criterion.rstrip("]")]
    if decider.split("@")[0] not in (default, "topm"):
        parts.append(decider)
    return " ".join(p for p in parts if p)


# --------------------------------------------------------------------------- checks
# Each check raises the one-line error the registry itself raises for the same name.


def check_attack(text: str) -> None:
    """``ATTACK[/DECIDER]`` or ``ATTACK/CRITERION`` (a screening attack's reading)."""
    name, _, second = text.partition("/")
    attacks = index()["attacks"]
    if name not in attacks:
        raise ConfigError(unknown_name("attack", name, list(attacks)), "pick one of those")
    info = attacks[name]
    if second and second not in info["criteria"] and second not in info["deciders"]:
        raise ConfigError(
            unknown_name(f"decider for {name}", second, info["deciders"]), "pick one of those"
        )


def check_decider(name: str, attack: str | None = None) -> None:
    """A decider, or with ``attack`` one that attack allows."""
    info = index()["attacks"].get(attack or "")
    if info is not None and name not in info["deciders"]:
        raise ConfigError(
            unknown_name(f"decider for {attack}", name, info["deciders"]), "pick one of those"
        )
    if name not in index()["deciders"]:
        raise ConfigError(unknown_name("decider", name, names("deciders")), "pick one of those")


def check_criterion(attack: str, criterion: str) -> None:
    criteria = index()["attacks"].get(attack, {}).get("criteria", [])
    if criterion not in criteria:
        raise ConfigError(
            unknown_name("criterion", criterion, criteria or ["none"]),
            "pick one of those" if criteria else "drop the criterion",
        )


def _methods() -> list[str]:
    """Methods, then the named recipes ``METHOD@VARIANT``, in the registry's order."""
    return [*names("methods"), *sorted(recipes.variants())]


METHODS_GROUP = "unleak.methods"  # the entry-point group of installed methods


def is_file_spec(name: str) -> bool:
    """Whether ``name`` names a method of your own in a file, ``PATH.py:NAME``."""
    path, sep, attr = name.rpartition(":")
    return bool(sep) and path.endswith(".py") and attr.isidentifier()


def method_label(name: str) -> str:
    """A method's name for a table: a method of your own in a file by the file's name
    (``runs/x/mine.py:fn`` -> ``mine.py:fn``); results keep the full path."""
    if not is_file_spec(name):
        return name
    path, _, attr = name.rpartition(":")
    return f"{path.replace(chr(92), '/').rsplit('/', 1)[-1]}:{attr}"


def entry_point_methods() -> dict[str, str]:
    """Methods installed packages declare (entry points ``unleak.methods``): name -> where it
    is defined, read from package metadata (nothing is imported)."""
    from importlib import metadata

    return {ep.name: ep.value for ep in metadata.entry_points(group=METHODS_GROUP)}


def is_plugin(name: str) -> bool:
    """Whether ``name`` names a method of your own: ``PATH.py:NAME`` (its file is checked, and
    imported, when the command runs) or an installed entry point (:func:`entry_point_methods`)."""
    return is_file_spec(name) or name in entry_point_methods()


def check_method(name: str) -> None:
    """A registered method, ``METHOD@VARIANT`` naming one of its recipes, or a plug-in."""
    if name not in _methods() and not is_plugin(name):
        raise ConfigError(
            unknown_name("unlearning method", name, _methods()),
            "pick one of those methods (METHOD@VARIANT names a recipe, see `unleak methods`), or "
            "give a method of your own as PATH.py:NAME",
        )


def check_methods(items: list[str]) -> None:
    """An audit's list of methods, refused as its configuration refuses it."""
    unknown = sorted(m for m in set(items) - set(_methods()) if not is_plugin(m))
    if unknown:
        raise ConfigError(
            f"audit configuration: methods: unknown method(s) {unknown}; known: "
            f"{', '.join(_methods())}",
            "fix that setting",
        )


def check_defence(name: str) -> None:
    if name not in index()["defences"]:
        raise ConfigError(
            unknown_name("defence", name, names("defences")), "pick one of those defences"
        )


def check_model(name: str) -> None:
    if name not in index()["models"]:
        raise ConfigError(
            unknown_name("model", name, names("models")), "pick one of those architectures"
        )


def check_dataset(name: str) -> None:
    if name.startswith(FILE_DATA):
        return  # files are read (and checked) by the data layer
    if name not in index()["datasets"]:
        raise ConfigError(
            unknown_name("data set", name, [*names("datasets"), "npz:PATH"]),
            "pick one of those names (see `unleak data list`)",
        )


def check_knowledge(name: str) -> None:
    if name not in index()["knowledge"]:
        raise ConfigError(
            unknown_name("knowledge mode", name, names("knowledge")),
            "pick one of those (unleak methods lists what each holds)",
        )
