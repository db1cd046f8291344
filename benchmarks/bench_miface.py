"""Our white-box inverter against IBM ART's MIFace, on the same unlearned models, same screening.

ART (adversarial-robustness-toolbox) is not a dependency of unleak: this benchmark uses it when it
is installed (``pip install adversarial-robustness-toolbox``) and records that it was missing
otherwise.

    python -m benchmarks.run miface        (benchmarks/results/miface.json)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

import unleak as ul
from benchmarks.common import DATA_ROOT, ROOT, save
from unleak import recipes
from unleak.attacks.deciders import make_decider
from unleak.attacks.screening import screening_features
from unleak.experiments.model_cache import ModelCache

# 600 MIFace steps take about 28 s per model on this CPU (see the JSON): a short case list
CASES = [("digits", (3, 8)), ("mnist", (3,))]
METHODS = ("rt", "ft", "rl", "au", "ng")
# ours: 60 Adam steps x 8 restarts per class; MIFace (one start): the same 60 steps, and 600
ART_STEPS = (60, 600)


def miface_prototypes(
    model: torch.nn.Module, shape: tuple[int, ...], k: int, steps: int
) -> torch.Tensor:
    from art.attacks.inference.model_inversion import MIFace
    from art.estimators.classification import PyTorchClassifier

    # MIFace descends on 1 - p(y|x): it needs probabilities, not the zoo's logits
    clf = PyTorchClassifier(
        model=torch.nn.Sequential(model, torch.nn.Softmax(dim=1)),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=shape,
        nb_classes=k,
        clip_values=(0.0, 1.0),
    )
    attack = MIFace(
        clf,
        max_iter=steps,
        window_length=steps,
        # ART 1.20 keeps a sample active while its cost (1 - p) is <= threshold: 1.0 (with the
        # softmax above) runs the full budget, the same fixed budget as ours
        threshold=1.0,
        learning_rate=0.1,
        batch_size=k,
        verbose=False,
    )
    x0 = np.full((k, *shape), 0.5, dtype=np.float32)
    return torch.from_numpy(attack.infer(x0, y=np.arange(k)).astype(np.float32))


def main() -> None:
    try:
        import art
    except ImportError:
        save("miface", {"installed": False, "note": "pip install adversarial-robustness-toolbox"})
        return
    import art

    store = ModelCache(ROOT / "runs" / "bench-cache")
    results: dict[str, Any] = {
        "installed": True,
        "art_version": art.__version__,
        "art_steps": list(ART_STEPS),
        "cases": [],
    }
    for dataset, classes in CASES:
        data = ul.data.load(dataset, DATA_ROOT)
        arch = recipes.default_model(dataset)
        orig = store.original(data, arch, 0)
        for method in METHODS:
            for c in classes:
                net, _ = store.unlearned(orig, data, method, (c,), 1)
                k = data.num_classes
                t0 = time.perf_counter()
                ours = ul.attacks.build("wb-inversion").run(
                    ul.attacks.Gradients(net, data.input_shape, k)
                )
                ours_s = time.perf_counter() - t0
                case: dict[str, Any] = {
                    "dataset": dataset,
                    "method": method,
                    "forget": [c],
                    "ours_hit": ours.predicted == (c,),
                    "ours_seconds": round(ours_s, 3),
                }
                for steps in ART_STEPS:
                    t0 = time.perf_counter()
                    protos = miface_prototypes(net, data.input_shape, k, steps=steps)
                    probs = ul.models.inference.predict_logits(net, protos).softmax(1)
                    feats = screening_features(probs, "threshold", {}, 0, {})
                    predicted, _ = make_decider("threshold").decide(feats)
                    case[f"art{steps}_hit"] = sorted(predicted) == [c]
                    case[f"art{steps}_predicted"] = sorted(predicted)
                    case[f"art{steps}_seconds"] = round(time.perf_counter() - t0, 3)
                results["cases"].append(case)
    for dataset, _ in CASES:
        rows = [r for r in results["cases"] if r["dataset"] == dataset]
        results[dataset] = {"n": len(rows)}
        for who in ("ours", *(f"art{s}" for s in ART_STEPS)):
            results[dataset][f"{who}_asr"] = float(np.mean([r[f"{who}_hit"] for r in rows]))
            results[dataset][f"{who}_seconds"] = float(np.mean([r[f"{who}_seconds"] for r in rows]))
    results["command"] = "python -m benchmarks.run miface"
    save("miface", results)


if __name__ == "__main__":
    main()
