"""An unlearning method unleak does not ship, written as a researcher would: a few lines of
torch that climb the loss on the forgotten classes and descend it on the retained ones.

It follows unleak's plug-in contract, ``unlearn(model, retain, forget, *, seed, **settings)``:
every keyword argument after ``seed`` is a setting you can change with ``--set KEY=VALUE`` or in
YAML. Audit it beside the paper's methods on digits (prints the leakage table):

    unleak sweep examples/my_method.yaml --out runs/my-method --workers 2

or unlearn one checkpoint with it:

    unleak unlearn --checkpoint ckpt --method-def examples/my_method.py:ascent_descent \\
        --forget 3 --out unlearned --set steps=100
"""

import copy
import itertools

import torch
import torch.nn.functional as F


def ascent_descent(
    model,
    retain,
    forget,
    *,
    seed,
    lr: float = 0.01,
    steps: int = 150,
    batch_size: int = 64,
    retain_weight: float = 1.0,
    forget_cap: float = 4.0,
):
    """ascent on the forget data, descent on the retained data (SGD, capped ascent)"""
    torch.manual_seed(seed)
    model = copy.deepcopy(model).train()  # the model we are given stays as it was
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    retain_batches = itertools.cycle(retain.loader(batch_size, seed=seed))
    # with nothing to forget (a null model of this method) only the descent runs
    forget_batches = None
    if len(forget):
        forget_batches = itertools.cycle(forget.loader(batch_size, seed=seed + 1))
    for _ in range(steps):
        xr, yr = next(retain_batches)
        loss = retain_weight * F.cross_entropy(model(xr), yr)
        if forget_batches is not None:
            xf, yf = next(forget_batches)
            # ascent stops pushing once the forget loss passes the cap: no runaway divergence
            loss = loss - F.cross_entropy(model(xf), yf).clamp(max=forget_cap)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
