"""Why the data-free attacks miss null-space unlearning (docs/findings.md, the tenth test): one
MNIST user LeNet of seed 0, outside every population, its class 3 (and {5, 8}) unlearned by
``unsc``, ``pgu`` and, for contrast, ``ng``, ``scrub`` and ``rl``.

    python -m benchmarks.null_space_lead    # benchmarks/results/null_space_lead.json

Per model it records whether the forgotten class stays reachable (probe-reach's reach in nats on
the attack's own probe mix; a white-box inversion of the model itself) and two readings against
the original: each head row's change, and the original's own class prototypes (the
``proto-transfer`` baseline's reading, at 32 a class) answered by the model. The 24 default
null models of an owner's audit are read the same way, and the shipped baseline at its defaults
(8 prototypes a class) says which classes it names. A look for a next round's lead, not a
rule: nothing here is chosen or held out.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from benchmarks.common import DATA_ROOT, save

PROTOTYPES = 32  # inversions a class
STEPS = 150  # ascent steps of each inversion
FORGET = {
    "unsc": ([3], {}),
    "pgu": ([3], {"epochs": 30}),  # a third of the authors' epochs: it forgets class 3 by then
    "ng": ([3], {}),
    "unsc {5, 8}": ([5, 8], {}),
    "scrub {5, 8}": ([5, 8], {}),
    "rl {5, 8}": ([5, 8], {}),
}


def main() -> dict[str, Any]:
    import unleak as ul
    import unleak.attacks as atk
    from benchmarks.nets.userlenet import UserLeNet
    from unleak.attacks.inversion import InversionParams, invert
    from unleak.attacks.probe_reach import reach
    from unleak.attacks.unrelated import unrelated_inputs
    from unleak.experiments.attackers import handle
    from unleak.experiments.nulls import build_null, null_config
    from unleak.experiments.own import OWN_NULLS
    from unleak.models.inference import per_class_accuracy, predict_logits

    torch.set_num_threads(1)
    data = ul.data.load("mnist", DATA_ROOT)
    torch.manual_seed(0)
    original = UserLeNet()
    cfg = ul.TrainConfig(epochs=2, lr=2e-3, optimizer="adam", batch_size=128, seed=0)
    ul.train(original, data.train, cfg)
    original.eval()

    def grads(m: nn.Module) -> atk.Target:
        return handle(atk.Access.GRADIENTS, m, data, None)

    # the shipped baseline, with more prototypes a class: its reading of every model below
    proto = atk.build("proto-transfer", restarts=PROTOTYPES, steps=STEPS)
    prototypes = proto.before(grads(original))
    search = InversionParams(grid=None, restarts=PROTOTYPES, steps=STEPS)
    probes = unrelated_inputs(
        "noise+blur+strokes+fashion-mnist",
        (1, 28, 28),
        4000,
        0,
        target_dataset="mnist",
        data_root=DATA_ROOT,
    )

    def on_prototypes(m: nn.Module) -> list[float]:
        return [round(float(v), 3) for v in proto.against(grads(m), prototypes).values[:, 1]]

    shipped = atk.build("proto-transfer")  # its defaults, as an audit runs it
    t = time.perf_counter()
    shipped_before = shipped.before(grads(original))
    out_seconds = time.perf_counter() - t

    def named(m: nn.Module) -> list[int]:
        return list(shipped.decide(shipped.against(grads(m), shipped_before)).predicted)

    out: dict[str, Any] = {
        "original": {
            "reach_nats": [round(float(r), 2) for r in reach(predict_logits(original, probes))],
            "prototypes": on_prototypes(original),
        },
        "nulls": {},
        "proto_transfer": {"original_seconds": round(out_seconds, 1), "nulls_named": {}},
    }
    for kind in OWN_NULLS:
        null = build_null(kind, original, cfg, data, null_config(kind, cfg, data, None, 0))
        out["nulls"][kind] = on_prototypes(null)
        out["proto_transfer"]["nulls_named"][kind] = named(null)
    out["models"] = {}
    for name, (forget, overrides) in FORGET.items():
        method = name.split()[0]
        retain, fsplit = data.train.split_classes(forget)
        t = time.perf_counter()
        run = ul.unlearning.run_unlearning(
            method, original, retain, fsplit, overrides or None, dataset="mnist", seed=1
        )
        m = run.model.eval()
        acc = per_class_accuracy(m, data.test.x, data.test.y, 10)
        x, labels, _ = invert(grads(m), search)  # the model inverted itself
        own = predict_logits(m, x[labels == forget[0]]).softmax(1)[:, forget[0]]
        out["models"][name] = {
            "forget": forget,
            "seconds": round(time.perf_counter() - t, 1),
            "per_class_accuracy": [round(float(a), 3) for a in acc],
            "reach_nats": [round(float(r), 2) for r in reach(predict_logits(m, probes))],
            "own_inversion_p": round(float(own.mean()), 3),
            "head_row_change": [
                round(float(v), 3)
                for v in (m.out.weight - original.out.weight).detach().norm(dim=1)
            ],
            "prototypes": on_prototypes(m),
            "proto_transfer_named": named(m),
        }
    save("null_space_lead", out)
    return out


if __name__ == "__main__":
    main()
