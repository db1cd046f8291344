"""Unlearning methods, registered by name, all running through the one training loop.

>>> retain, forget = data.train.split_classes([3])
>>> unlearned = unleak.unlearn("ng", original, retain, forget, dataset="digits")

Methods of your own plug in by file (``PATH.py:NAME``), entry point (``unleak.methods``) or
:func:`register_method`; see :mod:`unleak.unlearning.plugins`.
"""

# Importing the method modules registers them.
from unleak.unlearning import (  # noqa: F401
    adv_unlearn,
    au,
    bad_teacher,
    boundary_expand,
    boundary_shrink,
    cdp,
    contrastive,
    delete,
    duck,
    esc,
    eu_k,
    filtration,
    fisher,
    ft,
    jit,
    l1_sparse,
    lf_ssd,
    lotus,
    max_entropy,
    munba,
    neggrad_plus,
    newton,
    ng,
    npo,
    pgu,
    projection,
    rl,
    rt,
    salun,
    scar,
    scrub,
    selective_pruning,
    ssd,
    task_vector,
    unsc,
    unsir,
)
from unleak.unlearning.base import (
    MethodSpec,
    UnlearnConfig,
    UnlearnContext,
    UnlearnRun,
    code_hash,
    config_for,
    is_plugin_name,
    method_names,
    method_spec,
    register_method,
    run_unlearning,
    unlearn,
    variant_names,
)
from unleak.unlearning.plugins import PluginError

__all__ = [
    "MethodSpec",
    "PluginError",
    "UnlearnConfig",
    "UnlearnContext",
    "UnlearnRun",
    "code_hash",
    "config_for",
    "is_plugin_name",
    "method_names",
    "method_spec",
    "register_method",
    "run_unlearning",
    "unlearn",
    "variant_names",
]
