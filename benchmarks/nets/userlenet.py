"""A LeNet-style net written the way a user would, outside unleak's zoo: its own layer names, its
own normalisation constant, no batch norm. The test population trains and unlearns it."""

from __future__ import annotations

import torch
from torch import nn


class UserLeNet(nn.Module):
    def __init__(self, classes: int = 10, channels: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 8, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 64),
            nn.ReLU(),
        )
        self.out = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body((x - 0.13) / 0.31))
