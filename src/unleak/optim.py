"""SGD and Adam, step for step what ``torch.optim`` computes on the CPU, without its import cost.

``torch.optim`` loads ``torch._dynamo`` (and through it sympy) on an optimiser's first call: about
2 s of every unleak process's start-up, and 7 s in a fresh environment whose bytecode is not yet
compiled. These are the single-tensor update rules ``torch.optim.SGD`` and ``torch.optim.Adam``
use for CPU tensors (no foreach, fused, amsgrad, nesterov or dampening), operation for operation,
so the weights come out bit for bit the same; ``tests/test_training.py`` checks that against
``torch.optim`` itself. A schedule sets ``lr`` before each step (as ``LambdaLR`` does).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Optimizer:
    """The parameters with their learning rate; ``zero_grad`` and ``step`` as in torch."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.params = list(params)
        self.lr = float(lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p, p.grad)

    def _update(self, i: int, param: torch.Tensor, grad: torch.Tensor) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """``torch.optim.SGD(params, lr, momentum, weight_decay)``."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.buffers: dict[int, torch.Tensor] = {}

    def _update(self, i: int, param: torch.Tensor, grad: torch.Tensor) -> None:
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        if self.momentum != 0:
            buf = self.buffers.get(i)
            if buf is None:
                buf = self.buffers[i] = grad.detach().clone()
            else:
                buf.mul_(self.momentum).add_(grad, alpha=1)
            grad = buf
        param.add_(grad, alpha=-self.lr)


class Adam(Optimizer):
    """``torch.optim.Adam(params, lr, weight_decay)`` with its default betas and eps."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        self.weight_decay, self.betas, self.eps = weight_decay, betas, eps
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _update(self, i: int, param: torch.Tensor, grad: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        if i not in self.state:  # torch keeps the step count as a float32 tensor on the CPU
            zeros = torch.zeros_like(param, memory_format=torch.preserve_format)
            self.state[i] = (torch.tensor(0.0), zeros, zeros.clone())
        step_t, exp_avg, exp_avg_sq = self.state[i]
        step_t += 1
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = step_t.item()
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = self.lr / bias_correction1
        denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(self.eps)
        param.addcdiv_(exp_avg, denom, value=-step_size)
