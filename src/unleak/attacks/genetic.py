"""``bb-genetic``: a genetic algorithm per class that sees only probability vectors.

A small batched GA written in torch: every generation evaluates the populations of *all* classes in
one query call, so a 10-class attack with 50 individuals per class costs one call of 500 queries
per generation. (pygad, deap and nevergrad evaluate one solution, or one instance's batch, per
call; ten GA instances would make ten calls per generation.) Every input counts against the query
budget, exactly; the algorithm stops before it would exceed it.

Individuals live in a low-dimensional space (a coarse grid, upsampled bilinearly to the input
size) or the full pixel space. Fitness is the log-probability of the individual's class.
Selection is by tournament, crossover uniform, mutation Gaussian with a decaying scale, and the
best ``elite`` individuals survive unchanged. Screening is the same as ``wb-inversion``'s.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from unleak.attacks.access import DEFAULT_QUERY_BUDGET, Access, Queries, Target
from unleak.attacks.base import Attack, AttackParams, Rule, register_attack
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.screening import criteria_for, screening_features
from unleak.errors import ConfigError

# chosen on the development population only (benchmarks/calibrate.py, docs/protocol.md)
RULE = Rule(reading="confidence", decider="gap", constant=2.0, absolute=True)
CRITERIA, CRITERION = criteria_for(RULE)


class GeneticParams(AttackParams):
    criterion: Literal["threshold", "entropy", "confidence"] = CRITERION  # type: ignore[assignment]
    query_budget: int | None = Field(
        None,
        ge=10,
        le=10**9,
        description="queries for the whole attack, all classes (default: the handle's budget)",
    )
    population: int = Field(40, ge=4, le=10_000)
    elite: int = Field(4, ge=1)
    tournament: int = Field(3, ge=2)
    mutation: float = Field(0.3, gt=0, description="initial mutation scale (in pixel units)")
    mutation_decay: float = Field(0.97, gt=0, le=1)
    crossover: float = Field(0.5, ge=0, le=1)
    grid: int | None = Field(
        7, ge=1, le=512, description="coarse search grid side; None = full pixels"
    )
    seed: int = 0


@register_attack
class BlackBoxGenetic(Attack):
    name = "bb-genetic"
    label = "bb"
    requires = Access.QUERIES
    Params = GeneticParams
    rule = RULE
    criteria = CRITERIA
    default_criterion = CRITERION
    spends_queries = True
    threat = "probability vectors only, every query counted against the budget; no data"
    description = "batched genetic algorithm per class on probability queries, then screening"
    params: GeneticParams

    def query_budget(self, default: int | None = DEFAULT_QUERY_BUDGET) -> int | None:
        return self.params.query_budget or default

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Queries)
        target.require_probabilities(self.name)
        p = self.params
        k, shape, pop = target.num_classes, target.input_shape, p.population
        if p.elite >= pop:
            raise ConfigError(
                f"elite={p.elite} leaves no room in a population of {pop}", "lower elite"
            )
        per_gen = k * pop
        # its own budget, else what the handle still allows, else the one default
        budget = p.query_budget or DEFAULT_QUERY_BUDGET
        if p.query_budget is None and target.remaining is not None:
            budget = target.remaining
        if target.remaining is not None:
            budget = min(budget, target.remaining)
        generations = budget // per_gen
        if generations < 1:
            raise ConfigError(
                f"a query budget of {budget} cannot pay one generation "
                f"({k} classes x {pop} = {per_gen})",
                f"raise --query-budget to at least {per_gen} or lower the population",
            )
        gen = torch.Generator().manual_seed(p.seed)
        c, h, w = shape
        genome = (c, p.grid, p.grid) if p.grid else (c, h, w)

        def render(g: torch.Tensor) -> torch.Tensor:
            img = (
                g
                if not p.grid
                else F.interpolate(g, size=(h, w), mode="bilinear", align_corners=False)
            )
            return img.clamp(0, 1)

        pop_x = torch.rand(k, pop, *genome, generator=gen)
        labels = torch.arange(k)
        used0 = target.used
        curve = np.zeros((generations, k))
        scale = p.mutation
        fitness = torch.empty(k, pop)
        probs_all = torch.empty(k, pop, k)
        for g in range(generations):
            probs = target.probabilities(render(pop_x.reshape(k * pop, *genome))).view(k, pop, k)
            probs_all = probs
            fitness = probs[labels, :, labels].clamp_min(1e-30).log()
            curve[g] = fitness.max(1).values.numpy()
            if g == generations - 1:
                break
            order = fitness.argsort(1, descending=True)
            elites = torch.gather(
                pop_x,
                1,
                order[:, : p.elite].view(k, p.elite, *([1] * len(genome))).expand(-1, -1, *genome),
            )
            n_child = pop - p.elite
            # tournament selection of two parents per child, per class
            cand = torch.randint(0, pop, (k, n_child, 2, p.tournament), generator=gen)
            cand_fit = torch.gather(fitness[:, None, None, :].expand(-1, n_child, 2, -1), 3, cand)
            winners = torch.gather(cand, 3, cand_fit.argmax(3, keepdim=True)).squeeze(3)
            parents = torch.gather(
                pop_x[:, None].expand(-1, n_child, -1, *genome),
                2,
                winners.view(k, n_child, 2, *([1] * len(genome))).expand(-1, -1, -1, *genome),
            )
            mask = torch.rand(k, n_child, *genome, generator=gen) < p.crossover
            children = torch.where(mask, parents[:, :, 0], parents[:, :, 1])
            children = children + scale * torch.randn(children.shape, generator=gen)
            pop_x = torch.cat([elites, children.clamp(0, 1)], 1)
            scale *= p.mutation_decay
        best = fitness.argmax(1)
        profile = probs_all[labels, best]
        prototypes = render(pop_x[labels, best])
        queries = target.used - used0
        extra = {"best_log_prob": fitness.max(1).values.numpy()}
        details = {
            "fitness_curve": curve.T.round(
                4
            ).tolist(),  # per class, best log-probability per generation
            "generations": generations,
            "prototypes": prototypes.numpy().round(4).tolist(),
        }
        return screening_features(profile, p.criterion, extra, queries, details, self.criteria)
