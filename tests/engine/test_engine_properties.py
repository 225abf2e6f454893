"""Properties of the plan over random fact sets (hypothesis): no crash, consistent stages and spaces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.catalogue import exclusive_pairs
from advisor.engine import REGULARIZERS, build_facts, recommend
from advisor.engine._adjust import IN_EFFECT
from advisor.engine._fact_specs import NORMS, OPTIMIZERS
from advisor.engine._facts import ARCHS, BUDGETS, TASKS, VERDICTS
from advisor.engine._stages import STAGE_ONE_EXTRAS, in_baseline

declared = st.fixed_dictionaries(
    {},
    optional={
        "modality": st.sampled_from(TASKS),
        "samples": st.integers(2, 5_000_000),
        "classes": st.integers(1, 5000),
        "params": st.floats(1e3, 1e10),
        "depth": st.integers(1, 300),
        "arch": st.sampled_from(ARCHS),
        "fit": st.sampled_from(VERDICTS),
        "pretrained": st.booleans(),
        "budget": st.sampled_from(BUDGETS),
        "gpu_hours": st.floats(0, 1000),
        "batch_size": st.integers(1, 4096),
        "no_flip": st.booleans(),
        "has_dropout": st.floats(0, 0.9),
        "has_batchnorm": st.booleans(),
        "weight_decay": st.floats(0, 0.5),
        "label_smoothing": st.floats(0, 0.3),
        "norm": st.sampled_from(NORMS),
        "optimizer": st.sampled_from(OPTIMIZERS),
        "lr": st.floats(1e-6, 1.0),
        "has_residual": st.booleans(),
        "channels": st.integers(1, 4),
        "sparsity": st.booleans(),
    },
).map(
    # Declared samples must cover the declared classes (fewer is a ConfigError, tested elsewhere).
    lambda d: {**d, "samples": max(d["samples"], d.get("classes", 0))} if "samples" in d else d
)
measured = st.fixed_dictionaries(
    {},
    optional={
        "gap": st.floats(-1, 20),
        "noise": st.floats(0, 1),
        "fit_confidence": st.floats(0, 1),
        "onset_epoch": st.integers(0, 100),
        "n_epochs": st.integers(1, 200),
    },
)


@settings(max_examples=60, deadline=None)
@given(declared=declared, fit_extra=measured)
def test_plan_is_consistent(declared, fit_extra):
    fit = {"verdict": declared.pop("fit", "overfitting"), **fit_extra}
    recs = recommend(build_facts(fit=fit, declared=declared))
    stages = [r.stage for r in recs]
    assert stages == sorted(stages)
    if stages:
        assert sorted(set(stages)) == list(range(1, max(stages) + 1))
    assert len(set(recs.techniques())) == len(recs)
    for rec in recs:
        assert rec.score > 0 and rec.rules and rec.rationale
        for name, spec in rec.search_space.items():
            if spec["type"] != "categorical":
                assert spec["low"] <= rec.params[name] <= spec["high"]
    if fit["verdict"] == "underfitting":
        # no new regularizer; only a piece that lowers one in effect (EXP-016: dropout >= 0.5)
        for r in recs:
            if r.kind == "regularizer":
                current = recs.facts["dropout_rate"]
                assert r.technique == "dropout" and current
                assert r.search_space["p"]["high"] < current
    if declared.get("has_batchnorm") or declared.get("pretrained"):
        assert "batch_norm" not in recs.techniques()
    if (
        declared.get("no_flip")
        and recs.get("data_augmentation")
        and recs.get("data_augmentation").stage
    ):
        aug = recs.get("data_augmentation").params
        # transforms None = left to the input's shape; no_flip must then travel with it
        assert aug["no_flip"] is True
        assert "flip" not in (aug["transforms"] or [])
    stack = recs.to_stack()
    assert {p["technique"] for p in stack["pieces"]} <= set(REGULARIZERS)
    # Coherent and simple: no conflicting pair, stage 1 is the baseline plus at most one.
    assert exclusive_pairs(recs.techniques()) == []
    extras = [r for r in recs if r.stage == 1 and r.kind == "regularizer"]
    assert len([r for r in extras if not in_baseline(r.technique)]) <= STAGE_ONE_EXTRAS
    # What is in effect is the floor of the advice for an overfitting model (or an unknown
    # verdict): never silently reduced. For one that does not fit yet, a rule may lower it.
    for (name, param), fact in IN_EFFECT.items():
        rec, current = recs.get(name), recs.facts[fact]
        overfitting = recs.facts["fit"] in ("overfitting", None)
        if rec is not None and rec.stage is not None and current and overfitting:
            assert rec.params[param] >= current
            assert rec.search_space[param]["high"] >= current


@settings(max_examples=25, deadline=None)
@given(declared=declared)
def test_stack_is_accepted_by_regularizers(declared):
    regularizers = pytest.importorskip("advisor.regularizers")
    regularizers.Stack.from_dict(recommend(build_facts(declared=declared)).to_stack())
