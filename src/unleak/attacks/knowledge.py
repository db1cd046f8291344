"""What an attacker holds besides its handle on the target: the attacker's side of the threat model.

Every attack declares which of these it reads (``Attack.knows``); the harness, the CLI and the
shadow experiments fill in exactly that and nothing more, so an attack can never see data its
threat model denies it. The target's own handle (weights, gradients or queries) is separate: see
:mod:`unleak.attacks.access`.
"""

from __future__ import annotations

from dataclasses import dataclass

from unleak.data.core import Split

FIELDS = {
    "task": "the name of the target's data set (a data-free attacker refuses it as its own data)",
    "known_data": "labelled samples of classes the attacker knows the target kept",
    "labelled_data": "labelled data of every class, forgotten ones included (forbidden: a bound)",
    "data_root": "where the attacker's own data sets (unrelated inputs, probes) are read from",
}


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
    seed: int = 0
    shadow: bool = False

    @property
    def known_classes(self) -> tuple[int, ...]:
        """The classes of ``known_data``: the ones the attacker knows were retained."""
        if self.known_data is None:
            return ()
        return tuple(sorted(set(self.known_data.y.tolist())))
