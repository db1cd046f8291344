"""Unlearning efficacy: did the model forget, and what did it keep?"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from torch import nn

from unleak.data.core import Split, validate_forget_set
from unleak.models.inference import per_class_accuracy


@dataclass
class Efficacy:
    """Test accuracy on the forgotten classes, the retained classes and overall.

    ``reference`` holds the same figures for ``rt`` (retraining without the forgotten classes) on
    the same forget set, when it is known: the gold standard to compare with.
    """

    forget: tuple[int, ...]
    forget_acc: float
    retain_acc: float
    test_acc: float
    per_class: list[float] = field(default_factory=list)
    reference: Efficacy | None = None

    @property
    def forgot(self) -> bool:
        """Forget accuracy at most chance (1/K) — the bar used throughout the docs."""
        k = len(self.per_class) or 10
        return self.forget_acc <= 1.0 / k + 1e-9

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["forget"] = list(self.forget)
        d["reference"] = self.reference.to_dict() if self.reference else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Efficacy:
        ref = d.get("reference")
        return cls(
            forget=tuple(d["forget"]),
            forget_acc=d["forget_acc"],
            retain_acc=d["retain_acc"],
            test_acc=d["test_acc"],
            per_class=list(d.get("per_class", [])),
            reference=cls.from_dict(ref) if ref else None,
        )

    def row(self) -> dict[str, float]:
        out = {
            "forget_acc": self.forget_acc,
            "retain_acc": self.retain_acc,
            "test_acc": self.test_acc,
        }
        if self.reference:
            out |= {
                "rt_forget_acc": self.reference.forget_acc,
                "rt_retain_acc": self.reference.retain_acc,
            }
        return out


def _mean(per_class: np.ndarray, counts: np.ndarray, classes: list[int]) -> float:
    """Sample-weighted accuracy over ``classes`` (NaN when they hold no sample)."""
    n = counts[classes].sum()
    if n == 0:
        return math.nan
    return float(np.nansum(per_class[classes] * counts[classes]) / n)


def efficacy(
    model: nn.Module,
    test: Split,
    forget_classes: Iterable[int],
    reference: nn.Module | Efficacy | None = None,
) -> Efficacy:
    """Forget-class, retained-class and overall accuracy of ``model`` on ``test``.

    ``reference`` (the ``rt`` model, or its efficacy) is evaluated the same way and attached.
    """
    k = test.num_classes
    forget = validate_forget_set(forget_classes, k)
    pc = per_class_accuracy(model, test.x, test.y, k)
    counts = test.class_counts()
    retained = [c for c in range(k) if c not in forget]
    ref = reference
    if isinstance(reference, nn.Module):
        ref = efficacy(reference, test, forget)
    return Efficacy(
        forget=forget,
        forget_acc=_mean(pc, counts, list(forget)),
        retain_acc=_mean(pc, counts, retained),
        test_acc=_mean(pc, counts, list(range(k))),
        per_class=[float(v) for v in pc],
        reference=ref if isinstance(ref, Efficacy) else None,
    )
