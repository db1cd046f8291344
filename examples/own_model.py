"""Make an "own" model and an unlearned one with plain PyTorch, then audit them with unleak.

    python examples/own_model.py OUT_DIR   # OUT_DIR/{digits.npz, original.pt, unlearned.pt}
    unleak audit --model-def examples/own_model.py:OwnNet --dataset npz:OUT_DIR/digits.npz \\
        --original OUT_DIR/original.pt --unlearned OUT_DIR/unlearned.pt --out OUT_DIR/audit

The model follows unleak's input convention: float32 images (N, C, H, W) in [0, 1]; a model
trained on normalised inputs either normalises inside itself (as OwnNet does) or is audited with
``--normalize MEAN,STD``. Its last layer is an ``nn.Linear`` returning the logits.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn


class OwnNet(nn.Module):
    """A small convolutional net for 8x8 grey digits, written without unleak."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 16, 64),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features((x - 0.3) / 0.4))


def train(x: torch.Tensor, y: torch.Tensor, epochs: int = 15, seed: int = 0) -> OwnNet:
    """An ordinary training loop: Adam, mini-batches of 64."""
    torch.manual_seed(seed)
    net = OwnNet()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    return net.eval()


def main(out: Path, forget: int = 3) -> None:
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    np.savez(out / "digits.npz", x=images, y=digits.target)
    x, y = torch.from_numpy(images)[:, None], torch.from_numpy(digits.target).long()
    torch.save(train(x, y).state_dict(), out / "original.pt")
    keep = y != forget  # "unlearning" by retraining without the class
    torch.save(train(x[keep], y[keep], seed=1).state_dict(), out / "unlearned.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/own-example"))
