"""What an attacker holds besides its handle on the target: the attacker's side of the threat model.

Every attack declares which of these it reads (``Attack.knows``); the harness, the CLI and the
shadow experiments fill in exactly that and nothing more, so an attack can never see data its
threat model denies it. The target's own handle (weights, gradients or queries) is separate: see
:mod:`unleak.attacks.access`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from unleak.data.core import Split
from unleak.errors import ConfigError, unknown_name

if TYPE_CHECKING:
    from torch import nn

    from unleak.training import TrainConfig

FIELDS = {
    "task": "the name of the target's data set (a data-free attacker refuses it as its own data)",
    "known_data": "the attacker's labelled samples: of some classes known to be kept (mode kept), "
    "of every class (the other modes)",
    "mode": "the parameter attacks' knowledge mode (MODES)",
    "public_init": "the public checkpoint the target was fine-tuned from (mode public-init)",
    "labelled_data": "labelled data of every class, forgotten ones included (forbidden: a bound)",
    "data_root": "where the attacker's own data sets (unrelated inputs, probes) are read from",
}


# The parameter attacks' knowledge modes: what the attacker holds besides the target's weights,
# one threat-model sentence each (docs/design.md, "Knowledge modes"; measured in docs/results.md).
MODES = {
    "kept": "labelled samples of some classes known to be kept (param-dot), or unrelated inputs "
    "only (param-diff)",
    "labelled": "labelled samples of every class of the task, forgotten ones included (what "
    "oracle holds); one auxiliary head re-fitted on the target's features of them",
    "per-class": "labelled samples of every class; for each class c, the target fine-tuned on "
    "them without c, compared with the target",
    "public-init": "labelled samples of every class and the public checkpoint the target was "
    "fine-tuned from; for each class c, that checkpoint fine-tuned on them without c",
}
DEFAULT_MODE = "kept"


def check_mode(mode: str) -> str:
    """``mode`` if it is a knowledge mode, else a one-line error listing them."""
    if mode not in MODES:
        raise ConfigError(unknown_name("knowledge mode", mode, list(MODES)), "pick one of those")
    return mode


@dataclass(frozen=True)
class PublicInit:
    """A public checkpoint the target was fine-tuned from, and the recipe to fine-tune it with."""

    model: nn.Module
    config: TrainConfig


@dataclass(frozen=True)
class Knowledge:
    """The attacker's side information. Fields an attack does not declare stay unset.

    ``shadow`` is True when the attack runs on the attacker's own shadow models (calibration):
    ``task`` is then the shadow data set, not the target's.
    """

    task: str | None = None
    known_data: Split | None = None
    labelled_data: Split | None = None
    data_root: str | None = None
    mode: str = DEFAULT_MODE
    public_init: PublicInit | None = None
    seed: int = 0
    shadow: bool = False

    def __post_init__(self) -> None:
        check_mode(self.mode)

    @property
    def known_classes(self) -> tuple[int, ...]:
        """The classes of ``known_data`` (in mode ``kept``: the ones known to be retained)."""
        if self.known_data is None:
            return ()
        return tuple(sorted(set(self.known_data.y.tolist())))
