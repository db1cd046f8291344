"""``eu-k``: exact unlearning of the last k layers (Goel et al., "Towards Adversarial Evaluation
of Machine Unlearning", 2022).

Every layer but the last ``k`` layers with weights (convolutions and linear layers, in the order
the network runs them) is frozen; those ``k`` are re-initialised and trained on the retained data
only. What they encode never saw the forget set; the frozen layers below did, which is what an
attacker of the features may still find. (The paper's companion, CF-k, fine-tunes the same
layers without re-initialising them: on digits it forgot nothing in 20 epochs, so it is not
shipped.)

Settings: ``k = 2`` (of a LeNet-5: the last two linear layers), SGD at lr 0.05 for 5 epochs; the
authors ran k from 1 to the full depth.

unleak implemented this method for the verdict's second test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.errors import ConfigError
from unleak.training import TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class LastLayersConfig(UnlearnConfig):
    epochs: float = Field(5, gt=0, le=10_000)
    lr: float = Field(0.05, gt=0, le=100)
    k: int = Field(2, ge=1, le=1000, description="layers with weights, counted from the output")


def last_layers(model: nn.Module, k: int) -> list[nn.Module]:
    """The last ``k`` convolution and linear layers of ``model``, in module order."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d)]
    if k > len(layers):
        raise ConfigError(
            f"k={k} layers asked of a network with {len(layers)} layers with weights",
            f"give k from 1 to {len(layers)}",
        )
    return layers[-k:]


@builtin_method("eu-k", LastLayersConfig, "re-initialise the last k layers, train them on kept")
def eu_k(
    model: nn.Module, retain: Split, forget: Split, config: LastLayersConfig, ctx: UnlearnContext
) -> TrainRun:
    top = last_layers(model, config.k)
    for p in model.parameters():
        p.requires_grad_(False)
    torch.manual_seed(config.seed)  # the re-initialisation is the run's
    for layer in top:
        layer.reset_parameters()
        for p in layer.parameters():
            p.requires_grad_(True)
    run = fit(model, retain, config, callbacks=ctx.callbacks)
    for p in model.parameters():
        p.requires_grad_(True)
    return run
