"""Evidence of the parameter attacks under the knowledge modes that hold labelled samples of every
class (``labelled``, ``per-class``, ``public-init``; :data:`unleak.attacks.knowledge.MODES`).

One mechanism serves both attacks: each mode builds its auxiliaries once per target (cached on
disk), and the per-class table carries both comparisons, the dot product (``dot``, param-dot's
reading) and the difference (``diff``, param-diff's). Every column reads "higher = more likely
forgotten".

- ``labelled``: one head re-fitted on the target's own features of the samples. ``dot`` is one
  minus the cosine between the target's row and the row fitted from zero (a forgotten class's
  target row no longer points where its samples do); ``diff`` is log10 of how far each target row
  moves in a few SGD steps from the target's head on the true labels (a forgotten row is pulled
  hardest).
- ``per-class`` and ``public-init``: for every class c, an auxiliary network trained on the
  samples without c, from the target (per-class) or from the public checkpoint (public-init).
  The auxiliary that left out the forgotten class is the one the target resembles: ``dot`` is the
  cosine between the target and the auxiliary (their updates from the checkpoint, for
  public-init: the paper's "dot product of retained-data models and the unlearned model"),
  ``diff`` minus log10 of their distance.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parameters_to_vector

from unleak.attacks.access import Weights
from unleak.attacks.auxiliary import AuxCache, Basis, fit_head, model_key
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.knowledge import Knowledge
from unleak.data.core import Split
from unleak.errors import ConfigError
from unleak.training import TrainConfig, fit

NAMES = ["dot", "diff"]
# per-class: a short, gentle fine-tune of the target (design choice, tuned on no population)
PER_CLASS = TrainConfig(
    epochs=2,
    lr=0.01,
    batch_size=64,
    momentum=0.9,
    weight_decay=0.0,
    schedule="constant",
    freeze_norm=True,
)
LABELLED_STEPS = 10  # SGD steps of the diff head, as param-diff's head re-fit


def every_class(test: Split, per_class: int = 100, seed: int = 0) -> Split:
    """The attacker's samples in the modes that hold every class: ``per_class`` labelled samples
    of each, drawn with ``seed`` from ``test`` (non-members, as ``oracle`` holds them)."""
    return test.per_class_sample(per_class, range(test.num_classes), seed=seed)


def mode_evidence(
    target: Weights, knowledge: Knowledge, *, main: str, seed: int = 0, cache: bool = True
) -> ClassFeatures:
    """The per-class table of ``knowledge.mode`` for ``target`` (the attacker's samples are
    ``knowledge.known_data``), read through ``main`` (``dot``/``diff``)."""
    data, mode, public_init = knowledge.known_data, knowledge.mode, knowledge.public_init
    assert data is not None  # the attacks refuse a mode without samples at construction
    model, k = target.model, target.num_classes
    if data.num_classes != k or data.input_shape != target.input_shape:
        raise ConfigError(
            f"attacker data has {data.num_classes} classes of {data.input_shape}, the target "
            f"{k} of {target.input_shape}",
            "give samples of the target's own task",
        )
    missing = sorted(set(range(k)) - set(data.y.tolist()))
    if missing:
        raise ConfigError(
            f"knowledge mode {mode} needs labelled samples of every class; none of {missing}",
            "give samples of every class of the task (or use --knowledge kept)",
        )
    if mode == "public-init" and public_init is None:
        raise ConfigError(
            "knowledge mode public-init needs the public checkpoint the target started from",
            "pass --public-init CHECKPOINT (in Python: Knowledge(public_init=PublicInit(...)))",
        )
    key = {
        "mode": mode,
        "model": model_key(model),
        "data": model_key({"x": data.x, "y": data.y}),
        "seed": seed,
        "init": model_key(public_init.model) if public_init is not None else None,
        "recipe": public_init.config.model_dump() if public_init is not None else None,
    }
    build: Callable[[], torch.Tensor]
    if mode == "labelled":
        build = lambda: _labelled(model, data)  # noqa: E731
    else:
        start = public_init.model if public_init is not None else model
        cfg = public_init.config if public_init is not None else PER_CLASS
        build = lambda: _per_class(model, start, data, cfg, seed, centred=public_init is not None)  # noqa: E731
    values = AuxCache(cache).store.get_or_compute(key, lambda: {"values": build()})["values"]
    return ClassFeatures(
        values=values.numpy().astype(float),
        names=list(NAMES),
        candidates=np.ones(k, bool),
        main=NAMES.index(main),
        details={"mode": mode},
    )


def _labelled(model: nn.Module, data: Split) -> torch.Tensor:
    from unleak.models.heads import head

    k = data.num_classes
    basis = Basis.of(model, data.x, whiten=False)
    fc = head(model)
    w, b = basis.rows(fc.weight.detach(), fc.bias.detach())
    wa, _ = fit_head(basis.feats, data.y, k)
    ws, bs = fit_head(
        basis.feats,
        data.y,
        k,
        init=(w, b),
        steps=LABELLED_STEPS,
        lr=0.1,
        weight_decay=0.0,
        optimizer="sgd",
    )
    dot = 1.0 - F.cosine_similarity(w, wa, dim=1)
    moved = torch.cat([ws - w, (bs - b)[:, None]], 1).norm(dim=1)
    return torch.stack([dot, torch.log10(moved + 1e-12)], 1)


def _vector(model: nn.Module) -> torch.Tensor:
    return parameters_to_vector([p.detach() for p in model.parameters()]).double()


def _per_class(
    model: nn.Module, start: nn.Module, data: Split, cfg: TrainConfig, seed: int, *, centred: bool
) -> torch.Tensor:
    target, origin = _vector(model), _vector(start)
    if target.shape != origin.shape:
        raise ConfigError(
            f"the public checkpoint has {origin.numel()} weights, the target {target.numel()}",
            "give the checkpoint of the target's own architecture",
        )
    rows = []
    for c in range(data.num_classes):
        net = copy.deepcopy(start)
        for p in net.parameters():
            p.requires_grad_(True)
        fit(net, data.take(data.y != c), cfg.model_copy(update={"seed": seed * 1000 + c}))
        aux = _vector(net)
        a, t = (aux - origin, target - origin) if centred else (aux, target)
        cos = F.cosine_similarity(a, t, dim=0)
        rows.append(torch.stack([cos, -torch.log10((aux - target).norm() + 1e-12)]))
    return torch.stack(rows).float()
