"""Properties of the plan over random fact sets (hypothesis): no crash, consistent stages and spaces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.engine import REGULARIZERS, build_facts, recommend
from advisor.engine._facts import ARCHS, BUDGETS, TASKS, VERDICTS

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
        assert not any(r.kind == "regularizer" for r in recs)
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


@settings(max_examples=25, deadline=None)
@given(declared=declared)
def test_stack_is_accepted_by_regularizers(declared):
    regularizers = pytest.importorskip("advisor.regularizers")
    regularizers.Stack.from_dict(recommend(build_facts(declared=declared)).to_stack())
