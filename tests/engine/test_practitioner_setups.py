"""The sanity sweep of issue 11: on realistic set-ups, every plan is one a practitioner signs.

No two techniques that never share a plan, a stage 1 that starts simple (G4.1), nothing the
set-up forbids, and transforms that fit the input.
"""

from __future__ import annotations

import pytest
from practitioner_setups import SETUPS

from advisor.catalogue import TRANSFORMS, exclusive_pairs
from advisor.engine import recommend
from advisor.engine._stages import in_baseline

# G4.1: the baseline (L2 + early stopping) plus at most one technique.
STAGE_ONE_MAX = 3


@pytest.fixture(params=sorted(SETUPS), ids=str)
def setup(request):
    return SETUPS[request.param]


def test_plan_has_no_conflicting_pair(setup):
    recs = recommend(setup.facts)
    assert exclusive_pairs(recs.techniques()) == []


def test_stage_one_starts_simple(setup):
    recs = recommend(setup.facts)
    stage_one = [r.technique for r in recs if r.stage == 1]
    assert len(stage_one) <= STAGE_ONE_MAX, stage_one
    extras = [t for t in stage_one if not in_baseline(t)]
    assert len(extras) <= 1, stage_one
    later = [r.stage for r in recs if r.stage > 1]
    assert len(later) == len(set(later)), "one technique per later stage"


def test_nothing_forbidden_for_the_setup(setup):
    recs = recommend(setup.facts)
    for technique, why in setup.forbidden.items():
        assert technique not in recs.techniques(), f"{technique}: {why}"


def test_transforms_fit_the_input(setup):
    recs = recommend(setup.facts)
    augmentation = recs.get("data_augmentation")
    if augmentation is None or augmentation.stage is None:
        return
    transforms = augmentation.params["transforms"] or []
    if setup.facts.get("channels") == 1:
        assert not [t for t in transforms if TRANSFORMS[t].rgb]
    if setup.facts.get("no_flip"):
        assert not [t for t in transforms if TRANSFORMS[t].mirrors]


def test_transformers_get_light_dropout():
    for name in ("bert-base-finetune", "gpt-style-lm", "vit-s-imagenet"):
        dropout = recommend(SETUPS[name].facts).get("dropout")
        assert dropout.params["p"] <= 0.1 and dropout.search_space["p"]["high"] <= 0.2, name


def test_language_model_at_scale_gets_no_dropout():
    facts = {**SETUPS["gpt-style-lm"].facts, "params": 7e9}
    recs = recommend(facts)
    assert "dropout" not in recs.techniques() and recs.get("dropout").vetoed


def test_vision_transformer_augments_first_and_drops_paths():
    recs = recommend(SETUPS["vit-s-imagenet"].facts)
    assert recs.get("data_augmentation").stage == 1
    assert "stochastic_depth" in recs.techniques()


def test_resnet_augments_before_dropout():
    recs = recommend(SETUPS["resnet18-cifar10"].facts).techniques()
    assert recs.index("data_augmentation") < recs.index("dropout")


def test_sequence_model_starts_with_dropout():
    recs = recommend(SETUPS["gru-forecaster"].facts)
    assert recs.get("dropout").stage == 1
