"""Published training recipes: the facts of each set-up give a plan that contains the recipe.

For each recipe, every technique it uses is in the plan with the recipe's values inside the
plan's search range (or, for a technique the catalogue says never shares a plan with one in it,
such as CutMix beside mixup, offered in its place with the value inside its advised range),
and what the recipe leaves out for a reason (augmenting token ids, mirroring a series) is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from advisor.catalogue import TECHNIQUES, TRANSFORMS, conflicts_of
from advisor.engine import recommend


@dataclass(frozen=True)
class Recipe:
    source: str
    facts: dict[str, Any]
    # technique -> {param: values the recipe uses}
    values: dict[str, dict[str, tuple[float, ...]]]
    absent: tuple[str, ...] = ()
    transforms: tuple[str, ...] = ()  # transforms the recipe applies
    no_transforms: tuple[str, ...] = ()
    lr_hint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


IMAGENET = {"modality": "image", "samples": 1_281_167, "classes": 1000, "fit": "overfitting"}

RECIPES: dict[str, Recipe] = {
    # SGD momentum 0.9, lr 0.1, weight decay 1e-4, random resized crop + horizontal flip.
    "torchvision-resnet50-classic": Recipe(
        "https://github.com/pytorch/vision/tree/main/references/classification#resnet",
        {**IMAGENET, "arch": "resnet", "params": 25.6e6, "depth": 50, "optimizer": "sgd"},
        {"l2": {"weight_decay": (1e-4,)}, "data_augmentation": {}},
        absent=("batch_norm",),
        transforms=("crop", "flip"),
    ),
    # The 2021 recipe: weight decay 2e-5 (1e-4 before), label smoothing 0.1, mixup 0.2,
    # cutmix 1.0, EMA with decay 0.99998 per 32 steps scaled by 1024 x 32 / 600 epochs, which is
    # about 0.99997 per step (the snippet's EMA updates every step).
    "torchvision-resnet50-2021": Recipe(
        "https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/",
        {**IMAGENET, "arch": "resnet", "params": 25.6e6, "depth": 50, "optimizer": "sgd"},
        {
            "l2": {"weight_decay": (2e-5, 1e-4)},
            "label_smoothing": {"smoothing": (0.1,)},
            "mixup": {"alpha": (0.2,)},
            "cutmix": {"alpha": (1.0,)},
            "ema": {"decay": (0.99997,)},
            "data_augmentation": {},
        },
        absent=("batch_norm",),
        transforms=("crop", "flip"),
    ),
    # AdamW weight decay 0.05, label smoothing 0.1, mixup 0.8, cutmix 1.0, drop path 0.1,
    # RandAugment, no dropout.
    "deit-s": Recipe(
        "https://github.com/facebookresearch/deit (Touvron et al., ICML 2021, Table 9)",
        {**IMAGENET, "arch": "transformer", "params": 22e6, "optimizer": "adamw"},
        {
            "l2": {"weight_decay": (0.05,)},
            "label_smoothing": {"smoothing": (0.1,)},
            "mixup": {"alpha": (0.8,)},
            "cutmix": {"alpha": (1.0,)},
            "stochastic_depth": {"p": (0.1,)},
            "data_augmentation": {},
        },
        absent=("batch_norm",),
        transforms=("crop", "flip", "rotation", "brightness", "contrast"),
        extra={"dropout": 0.0},
    ),
    # AdamW lr 2e-5..5e-5, weight decay 0.01, dropout 0.1, a few epochs; text is not augmented.
    "bert-base-glue": Recipe(
        "https://github.com/google-research/bert#fine-tuning-with-bert (Devlin et al., NAACL 2019)",
        {
            "modality": "text",
            "arch": "transformer",
            "pretrained": True,
            "samples": 67_349,
            "classes": 2,
            "params": 110e6,
            "optimizer": "adamw",
            "has_dropout": 0.1,
            "fit": "overfitting",
        },
        {"l2": {"weight_decay": (0.01,)}, "dropout": {"p": (0.1,)}, "early_stopping": {}},
        absent=("data_augmentation", "batch_norm", "mixup", "cutmix"),
        lr_hint="2e-5..5e-5",
    ),
    # An MLP on a small table: AdamW weight decay up to 1e-3, dropout up to 0.5, early stopping.
    "tabular-mlp": Recipe(
        "https://arxiv.org/abs/2106.11959 (Gorishniy et al., NeurIPS 2021, MLP search space)",
        {
            "modality": "tabular",
            "arch": "mlp",
            "samples": 5_000,
            "classes": 2,
            "params": 2e5,
            "depth": 3,
            "optimizer": "adamw",
            "fit": "overfitting",
        },
        {
            "l2": {"weight_decay": (1e-4, 1e-3)},
            "dropout": {"p": (0.1, 0.2, 0.3)},
            "early_stopping": {},
        },
        absent=("data_augmentation", "elastic_net", "l1", "mixup"),
    ),
    # A GRU forecaster: dropout 0.1-0.3, weight decay, early stopping; no flip, no mixup.
    "gru-forecaster": Recipe(
        "https://pytorch-forecasting.readthedocs.io (RecurrentNetwork: GRU, dropout 0.1)",
        {
            "modality": "sequence",
            "arch": "rnn",
            "objective": "forecasting",
            "samples": 5_000,
            "params": 5e4,
            "depth": 2,
            "optimizer": "adam",
            "fit": "overfitting",
        },
        {"dropout": {"p": (0.1, 0.2, 0.3)}, "l2": {}, "early_stopping": {}},
        absent=("mixup", "cutmix", "label_smoothing"),
        no_transforms=("flip", "vflip"),
    ),
}


def _inside(value: float, spec: dict[str, Any]) -> bool:
    return spec["low"] <= value <= spec["high"]


def _alternative_range(recs, technique: str, param: str) -> dict[str, Any] | None:
    """The advised range of a technique the plan offers in place of one it holds."""
    for conflict in conflicts_of(technique):
        if conflict.kind == "exclusive" and set(conflict.techniques) & set(recs.techniques()):
            return TECHNIQUES[technique].params[param].advised
    return None


@pytest.fixture(params=sorted(RECIPES), ids=str)
def recipe(request):
    return RECIPES[request.param]


def test_plan_contains_the_recipes_techniques_and_values(recipe):
    recs = recommend(recipe.facts)
    for technique, params in recipe.values.items():
        rec = recs.get(technique)
        in_plan = rec is not None and rec.stage is not None
        for param, values in params.items():
            spec = rec.search_space.get(param) if in_plan else None
            spec = spec or (None if in_plan else _alternative_range(recs, technique, param))
            assert spec is not None, f"{technique} is neither in the plan nor offered in place"
            for value in values:
                assert _inside(value, spec), (technique, param, value, spec)
        if not params:
            assert in_plan, technique


def test_plan_leaves_out_what_the_recipe_leaves_out(recipe):
    recs = recommend(recipe.facts)
    for technique in recipe.absent:
        assert technique not in recs.techniques(), technique
    dropout = recipe.extra.get("dropout")
    if dropout is not None and recs.get("dropout") and recs.get("dropout").stage:
        assert _inside(dropout, recs.get("dropout").search_space["p"])


def test_augmentation_uses_the_recipes_transforms(recipe):
    augmentation = recommend(recipe.facts).get("data_augmentation")
    chosen = set((augmentation.params.get("transforms") or []) if augmentation else [])
    assert set(recipe.transforms) <= chosen
    assert not set(recipe.no_transforms) & chosen
    assert all(TRANSFORMS[t].kind in ("image", "sequence") for t in chosen)


def test_learning_rate_advice_matches_the_recipes_that_name_one():
    for name, recipe in RECIPES.items():
        if recipe.lr_hint is not None:
            assert recipe.lr_hint in recommend(recipe.facts).setup["lr_hint"], name
