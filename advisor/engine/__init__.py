"""The rules engine: facts in, a ranked and explained regularizer plan out.

The guidance lives as data in rule files (``rules/`` in the repository, ``advisor/rules``
in the wheel); this package builds the facts, loads and checks the rules, evaluates them and
orders the result as a staged plan with Optuna search spaces::

    from advisor.engine import build_facts, recommend
    facts = build_facts(declared={"modality": "image", "samples": 2000, "fit": "overfitting"})
    recs = recommend(facts)
    recs.to_dict()    # ordered list of {technique, score, stage, rules, rationale, search_space ...}
    recs.to_stack()   # the stack spec for advisor.regularizers / advisor.tuning
    recs.setup        # objective, optimizer, learning rate: what generated code is written for

Techniques, their parameters, ranges and conflicts come from ``advisor.catalogue``.
Importing it does not import torch, optuna or sklearn.
"""

from advisor.catalogue import ACTIONS, REGULARIZERS, TECHNIQUES, Technique
from advisor.catalogue import TRANSFORM_NAMES as TRANSFORMS
from advisor.engine._expr import FUNCTIONS, Condition
from advisor.engine._facts import (
    ALIASES,
    COMPLEXITY_THRESHOLDS,
    DECLARED_KEYS,
    FACT_SPECS,
    SIZE_THRESHOLDS,
    Fact,
    Facts,
    FactSpec,
    build_facts,
    validate_declared,
)
from advisor.engine._lint import lint_rules
from advisor.engine._loader import builtin_rules_dir, load_rules
from advisor.engine._plan import Recommendation, Recommendations, RuleHit
from advisor.engine._recommend import recommend
from advisor.engine._rule import Rule, RuleSet
from advisor.engine._rule_schema import GUIDANCE_IDS, describe_effect

__all__ = [
    "ACTIONS",
    "ALIASES",
    "COMPLEXITY_THRESHOLDS",
    "DECLARED_KEYS",
    "FACT_SPECS",
    "FUNCTIONS",
    "GUIDANCE_IDS",
    "REGULARIZERS",
    "SIZE_THRESHOLDS",
    "TECHNIQUES",
    "TRANSFORMS",
    "Condition",
    "Fact",
    "FactSpec",
    "Facts",
    "Recommendation",
    "Recommendations",
    "Rule",
    "RuleHit",
    "RuleSet",
    "Technique",
    "build_facts",
    "builtin_rules_dir",
    "describe_effect",
    "lint_rules",
    "load_rules",
    "recommend",
    "validate_declared",
]
