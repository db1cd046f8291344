"""A sweep's grid: :class:`SweepConfig` (validated YAML) and its expansion into runs.

A run is one model to attack: an unlearned model (data set, model, seed, method, forget set) or a
null model (nothing forgotten), optionally behind a defence. Its ``key`` holds everything that
defines it, resolved recipes included, so editing ``recipes.yaml`` makes new runs, never stale
hits.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator, model_validator

from unleak import data as data_mod
from unleak import recipes
from unleak._version import __version__
from unleak.cache import key_of
from unleak.data.core import random_forget_sets
from unleak.experiments.model_cache import code_of
from unleak.experiments.settings import AttackSpec, ExperimentConfig, load_config_file
from unleak.unlearning import code_hash, config_for, method_names


class SweepConfig(ExperimentConfig):
    """A grid of experiments. Unknown keys and bad values are refused; ``datasets`` must be
    named (an empty file is not a grid)."""

    name: str = "sweep"
    datasets: list[str] = Field(min_length=1, description="the data sets of the grid")
    models: list[str | None] = Field(
        default_factory=lambda: [None], description="None: per data set"
    )
    forget_sizes: list[int] = Field(default_factory=lambda: [1])
    sets_per_size: int = Field(
        10, ge=1, description="forget sets per size (size 1: single classes)"
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    null_models: list[str] = Field(default_factory=lambda: ["original", "rt", "ft", "au"])
    query_curve: list[int] = Field(default_factory=list, description="extra bb-genetic budgets")
    num_forgotten_known: bool = True
    threads: int = Field(
        1,
        ge=1,
        le=256,
        description="torch threads per run: on the CPU, results depend on how float sums are "
        "split across threads, so every executor and worker count uses the same number",
    )
    train: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="overrides per data set"
    )

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if any(not 0 <= s < 2**63 for s in value):
            raise ValueError("seeds must be whole numbers from 0 to 2**63 - 1")
        if len(set(value)) != len(value):
            raise ValueError("a seed is listed twice")
        return value

    @field_validator("forget_sizes")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if not value or min(value) < 1:
            raise ValueError("forget sizes must be at least 1")
        return value

    @model_validator(mode="after")
    def _overrides(self) -> SweepConfig:
        for dataset in self.datasets:
            self.check_unlearn(dataset, None)
        return self

    def all_specs(self) -> list[AttackSpec]:
        """The experiment's attacks, then bb-genetic once more per extra budget of the curve."""
        curve = [
            AttackSpec(attack="bb-genetic", criterion="threshold", params={"query_budget": b})
            for b in self.query_curve
        ]
        return [*super().all_specs(), *curve]


def load_sweep_config(path: str | os.PathLike[str]) -> SweepConfig:
    return load_config_file(SweepConfig, path, "sweep")


@dataclass(frozen=True)
class RunSpec:
    """One model to attack; ``key`` identifies it (and its attacks) across restarts."""

    dataset: str
    model: str
    seed: int
    kind: str  # "unlearned" or "null"
    method: str  # unlearning method, or null kind
    forget: tuple[int, ...]
    key: str = ""
    defence: str = ""

    def describe(self) -> str:
        what = (
            f"{self.method} forget {list(self.forget)}"
            if self.kind == "unlearned"
            else f"null {self.method}"
        )
        guard = f" + {self.defence}" if self.defence else ""
        return f"{self.dataset}/{self.model} seed {self.seed}: {what}{guard}"


def expand(config: SweepConfig) -> list[RunSpec]:
    """Every run of the grid, in a stable order."""

    specs_key = [s.model_dump() for s in config.all_specs()]
    common = {
        "version": __version__,
        "attacks": specs_key,
        "query_budget": config.query_budget,
        "known": config.num_forgotten_known,
        "unlearn": config.unlearn,
        "shadow": config.shadow,
    }
    runs: list[RunSpec] = []
    for dataset in config.datasets:
        if dataset.startswith(("npz:", "folder:")):
            loaded = data_mod.load(dataset, config.data_root)
            num_classes, shape = loaded.num_classes, loaded.input_shape
        else:
            num_classes, shape = len(data_mod.spec(dataset).class_names), None
        for model in config.models:
            arch = model or recipes.default_model(dataset, shape)
            # keys hold the resolved recipes: editing recipes.yaml makes new runs, not stale hits
            resolved = {
                "train": {
                    **recipes.train_recipe(dataset, arch, shape),
                    **config.train.get(dataset, {}),
                },
                "arch_args": recipes.arch_args(dataset, arch, shape, None),
                "unlearn": {
                    m: config_for(m, dataset, arch, config.unlearn.get(m), shape).model_dump()
                    for m in {*config.methods, "rt", *config.null_models}
                    if m in method_names(variants=True) and not code_hash(m)
                },
            }
            # a method of your own keys only its own runs, by its settings and code hash: an
            # edited method file makes its runs new and leaves every other run of the grid done
            mine = {
                m: {
                    **config_for(m, dataset, arch, config.unlearn.get(m), shape).model_dump(),
                    **code_of(m),
                }
                for m in {*config.methods, *config.null_models}
                if code_hash(m)  # a method of your own: a file, an entry point, Python
            }
            for seed in config.seeds:
                base = {**common, "dataset": dataset, "model": arch, "seed": seed, **resolved}
                for kind in config.null_models:
                    for defence in ["", *config.defences]:
                        r = RunSpec(dataset, arch, seed, "null", kind, (), defence=defence)
                        runs.append(_keyed(r, base, config, mine.get(kind)))
                for forget in random_forget_sets(
                    num_classes, config.forget_sizes, config.sets_per_size, seed
                ):
                    for method in config.methods:
                        for defence in ["", *config.defences]:
                            r = RunSpec(
                                dataset, arch, seed, "unlearned", method, forget, "", defence
                            )
                            runs.append(_keyed(r, base, config, mine.get(method)))
    return runs


def _keyed(
    run: RunSpec, base: dict[str, Any], config: SweepConfig, plugin: dict[str, Any] | None
) -> RunSpec:
    spec = {**base, "kind": run.kind, "method": run.method, "forget": list(run.forget)}
    if plugin is not None:
        spec["plugin"] = plugin
    if run.defence:  # undefended runs keep the keys they had before defences existed
        spec["defence"] = {"name": run.defence, **config.defence_settings.get(run.defence, {})}
    return dataclasses.replace(run, key=key_of(spec))


# ----------------------------------------------------------------------------- one run
