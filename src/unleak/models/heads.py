"""Finding the head (the final ``nn.Linear``) of any classifier, and its input features."""

from __future__ import annotations

import torch
from torch import nn

from unleak.errors import ModelError
from unleak.models.inference import eval_mode


def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def head(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> nn.Linear:
    """The final ``nn.Linear`` of ``model``, whose outputs are the model's logits.

    Zoo models name it ``fc``. For any other model, with ``input_shape`` a forward pass traces
    the layers actually called and checks that the last one is an ``nn.Linear`` whose output *is*
    the model's output; without it, the last registered leaf module must be an ``nn.Linear``.
    """
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear) and type(model).__name__ == "ZooModel":
        return fc
    if input_shape is None:
        leaves = _leaves(model)
        linears = [m for m in leaves if isinstance(m, nn.Linear)]
        if not linears:
            raise ModelError(
                f"{type(model).__name__} has no nn.Linear layer",
                "end the model with an nn.Linear classifier head",
            )
        if leaves[-1] is not linears[-1]:
            raise ModelError(
                f"the last layer of {type(model).__name__} is {type(leaves[-1]).__name__}, "
                "not nn.Linear",
                "end the model with an nn.Linear that returns the logits",
            )
        return linears[-1]
    return _traced_head(model, tuple(input_shape))


def _traced_head(model: nn.Module, input_shape: tuple[int, ...]) -> nn.Linear:
    calls: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda mod, _inp, out: calls.append((mod, out)))
        for m in _leaves(model)
    ]
    try:
        with torch.no_grad(), eval_mode(model):
            out = model(torch.full((2, *input_shape), 0.5))
    except Exception as exc:
        raise ModelError(
            f"{type(model).__name__} fails on inputs of shape {input_shape}: "
            f"{type(exc).__name__}: {exc}",
            "check the model definition and the data set's image shape",
        ) from exc
    finally:
        for h in hooks:
            h.remove()
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise ModelError(
            f"{type(model).__name__} returns {type(out).__name__} "
            f"{tuple(getattr(out, 'shape', ()))}, not logits of shape (N, K)",
            "return the logits of the final nn.Linear from forward()",
        )
    if not calls:
        raise ModelError(f"{type(model).__name__} calls no layer", "define its layers as modules")
    last, last_out = calls[-1]
    if not isinstance(last, nn.Linear):
        raise ModelError(
            f"the last layer {type(model).__name__} calls is {type(last).__name__}, not nn.Linear",
            "end the model with an nn.Linear that returns the logits (no softmax after it)",
        )
    if last_out is not out and not torch.equal(last_out, out):
        raise ModelError(
            f"{type(model).__name__} changes the output of its last nn.Linear",
            "return the logits of the final nn.Linear unchanged",
        )
    return last


@torch.no_grad()
def penultimate(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1024, fc: nn.Linear | None = None
) -> torch.Tensor:
    """Inputs of the head (``fc``, found when not given) for images ``x`` (eval mode, batched, on
    the head's device): the model's feature basis."""
    fc = fc if fc is not None else head(model)
    dev = fc.weight.device
    feats: list[torch.Tensor] = []
    hook = fc.register_forward_hook(lambda _m, inp, _o: feats.append(inp[0].detach()))
    try:
        with eval_mode(model):
            for i in range(0, len(x), batch_size):
                model(x[i : i + batch_size].to(dev))
    finally:
        hook.remove()
    return torch.cat(feats) if feats else torch.zeros(0, fc.in_features)
