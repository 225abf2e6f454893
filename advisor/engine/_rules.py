"""Rule files: the schema, loading, overriding and linting of the knowledge base.

Rules are data (TOML files, one per concern) so that the guidance can be reviewed, tested
and extended without touching the engine. The built-in rules live in the top-level
``rules/`` folder of the repository and ship inside the wheel as ``advisor/rules/``.
A rule file looks like::

    concern = "fit state"
    description = "What the shape of the learning curves asks for."

    [[rules]]
    id = "FIT-001"
    slug = "overfitting-needs-regularization"
    title = "Overfitting: add regularization"
    guidance = ["G3.4", "G1.4"]
    when = "fit == 'overfitting'"
    effects = [
      { recommend = "l2", weight = 2 },
      { recommend = "early_stopping", weight = 2 },
    ]
    rationale = "Training keeps improving while validation does not: variance is the problem."
    fix = "Add the stack below one piece at a time and watch the validation curve."
    source = "G3.4"
    cases.fire = [{ fit = "overfitting" }]
    cases.no_fire = [{ fit = "underfitting" }]

Every problem of every file is collected and raised together as one ``RuleError`` whose
``problems`` read ``FILE: rule ID: FIELD: what is wrong``. ``lint_rules`` also runs each
rule's test cases.
"""

from __future__ import annotations

import difflib
import functools
import re
import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from advisor.engine._expr import Condition, ConditionError
from advisor.engine._facts import FACT_SPECS, facts_from_case
from advisor.engine._techniques import TECHNIQUES, TRANSFORMS, technique_groups
from advisor.errors import AdvisorError, RuleError

__all__ = [
    "GUIDANCE_IDS",
    "Rule",
    "RuleSet",
    "builtin_rules_dir",
    "lint_rules",
    "load_rule_files",
    "load_rules",
]

# Every id of ../shared/guidance.md; each must be cited by at least one built-in rule.
GUIDANCE_IDS: tuple[str, ...] = (
    "G1.1",
    "G1.2",
    "G1.3",
    "G1.4",
    "G2.1",
    "G2.2",
    "G2.3",
    "G2.4",
    "G2.5",
    "G2.6",
    "G2.7",
    "G2.8",
    "G2.9",
    "G3.1",
    "G3.2",
    "G3.3",
    "G3.4",
    "G3.5",
    "G4.1",
    "G4.2",
    "G4.3",
    "G4.4",
    "G4.5",
    "G4.6",
)
_GROUPS = technique_groups()
_FILE_ORDER = {
    name: i
    for i, name in enumerate(
        (
            "fit_state",
            "dataset_size",
            "model_complexity",
            "task_type",
            "compute_budget",
            "fine_tuning",
            "practice",
            "expert",
        )
    )
}


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _technique(value: str, *, groups: bool = False) -> str:
    allowed = list(TECHNIQUES) + (list(_GROUPS) if groups else [])
    if value not in allowed:
        raise ValueError(f"unknown technique '{value}'{_did_you_mean(value, allowed)}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recommend(_Strict):
    """Add ``weight`` to the technique's score."""

    recommend: str
    weight: float = Field(gt=0)

    _check = field_validator("recommend")(lambda cls, v: _technique(v))


class Discourage(_Strict):
    """Subtract ``weight`` from the score of a technique (or of a group: ``regularizers``)."""

    discourage: str
    weight: float = Field(gt=0)

    _check = field_validator("discourage")(lambda cls, v: _technique(v, groups=True))


class Veto(_Strict):
    """Never recommend the technique (or group) while the rule fires, whatever the score."""

    veto: str

    _check = field_validator("veto")(lambda cls, v: _technique(v, groups=True))


class Search(_Strict):
    """Set (``mode = "set"``) or narrow (default) the search range of one parameter."""

    search: str
    param: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None
    mode: Literal["set", "narrow"] = "narrow"

    _check = field_validator("search")(lambda cls, v: _technique(v))


class SetParam(_Strict):
    """Set the starting value of one parameter of the technique's stack piece."""

    set: str
    param: str
    value: Any

    _check = field_validator("set")(lambda cls, v: _technique(v))


class Stage(_Strict):
    """Ask for the technique in stage ``at`` (1 = the first thing to try) or later."""

    stage: str
    at: int = Field(ge=1, le=9)

    _check = field_validator("stage")(lambda cls, v: _technique(v))


class Transforms(_Strict):
    """Add or remove data-augmentation transforms (``names`` from ``TRANSFORMS``)."""

    transforms: Literal["add", "remove"]
    names: list[str] = Field(min_length=1)

    @field_validator("names")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in TRANSFORMS:
                raise ValueError(
                    f"unknown transform '{name}'{_did_you_mean(name, TRANSFORMS)}; known: {', '.join(TRANSFORMS)}"
                )
        return names


class Note(_Strict):
    """A line of advice, on one technique (``on``) or on the plan; ``{fact}`` placeholders allowed."""

    note: str = Field(min_length=1)
    on: str | None = None

    _check = field_validator("on")(lambda cls, v: v if v is None else _technique(v))


class Defer(_Strict):
    """Move every regularizer after stage 1: fix training itself first."""

    defer: Literal["regularizers"]


_EFFECT_KINDS = (
    "recommend",
    "discourage",
    "veto",
    "search",
    "set",
    "stage",
    "transforms",
    "note",
    "defer",
)


def _effect_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return _kind_of(value)
    if isinstance(value, dict):
        present = [k for k in _EFFECT_KINDS if k in value]
        return present[0] if len(present) == 1 else None
    return None


def _kind_of(effect: BaseModel) -> str:
    return next(k for k in _EFFECT_KINDS if k in type(effect).model_fields)


Effect = Annotated[
    Annotated[Recommend, Tag("recommend")]
    | Annotated[Discourage, Tag("discourage")]
    | Annotated[Veto, Tag("veto")]
    | Annotated[Search, Tag("search")]
    | Annotated[SetParam, Tag("set")]
    | Annotated[Stage, Tag("stage")]
    | Annotated[Transforms, Tag("transforms")]
    | Annotated[Note, Tag("note")]
    | Annotated[Defer, Tag("defer")],
    Discriminator(
        _effect_kind,
        custom_error_type="effect_kind",
        custom_error_message=f"an effect needs exactly one of the keys {', '.join(_EFFECT_KINDS)}",
    ),
]


class Cases(_Strict):
    fire: list[dict[str, Any]] = Field(default_factory=list)
    no_fire: list[dict[str, Any]] = Field(default_factory=list)


class RuleModel(_Strict):
    """The schema of one ``[[rules]]`` entry."""

    id: str = Field(pattern=r"^[A-Z]{2,6}-\d{3}$")
    slug: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str = Field(min_length=3)
    guidance: list[str] = Field(default_factory=list)
    when: str = Field(min_length=1)
    effects: list[Effect] = Field(min_length=1)
    rationale: str = Field(min_length=10)
    fix: str = Field(min_length=5)
    source: str = Field(min_length=2)
    override: bool = False
    enabled: bool = True
    cases: Cases = Field(default_factory=Cases)

    @field_validator("guidance")
    @classmethod
    def _guidance_ids(cls, ids: list[str]) -> list[str]:
        for gid in ids:
            if gid not in GUIDANCE_IDS:
                raise ValueError(
                    f"unknown guidance id '{gid}'; ids run G1.1-G1.4, G2.1-G2.9, G3.1-G3.5, G4.1-G4.6"
                )
        return ids


class FileModel(_Strict):
    concern: str = Field(min_length=2)
    description: str = ""
    rules: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    """A validated rule, ready to evaluate.

    Attributes:
        id, slug, title, guidance, rationale, fix, source: as in the file.
        condition: the compiled ``when`` expression.
        effects: validated effect models.
        concern: the concern of its file ("fit state", "dataset size" ...).
        path: the file it came from.
        builtin: shipped with advisor (False for user rules).
        cases: ``{"fire": [...], "no_fire": [...]}`` test fact sets.
    """

    id: str
    slug: str
    title: str
    guidance: tuple[str, ...]
    condition: Condition
    effects: tuple[Any, ...]
    rationale: str
    fix: str
    source: str
    concern: str
    path: Path
    builtin: bool
    enabled: bool = True
    override: bool = False
    cases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def when(self) -> str:
        return self.condition.text

    @property
    def techniques(self) -> tuple[str, ...]:
        """Techniques this rule acts on, in order of first mention."""
        seen: dict[str, None] = {}
        for effect in self.effects:
            kind = _kind_of(effect)
            target = getattr(effect, kind) if kind not in ("transforms", "note", "defer") else None
            if kind == "transforms":
                target = "data_augmentation"
            if kind == "note":
                target = effect.on
            if kind == "defer":
                target = "regularizers"
            if target:
                seen[target] = None
        return tuple(seen)

    def fires(self, values: dict[str, Any]) -> bool:
        """Whether the rule's condition holds for these fact values."""
        try:
            return self.condition.evaluate(values)
        except ConditionError as exc:
            raise RuleError(
                f"{self.path.name}: rule {self.id}: when: {exc}",
                [f"{self.path}: rule {self.id}: when: {exc}"],
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "title": self.title,
            "concern": self.concern,
            "guidance": list(self.guidance),
            "when": self.when,
            "effects": [e.model_dump(exclude_defaults=False) for e in self.effects],
            "rationale": self.rationale,
            "fix": self.fix,
            "source": self.source,
            "file": str(self.path),
            "builtin": self.builtin,
            "enabled": self.enabled,
            "override": self.override,
            "cases": self.cases,
        }


def describe_effect(effect: Any) -> str:
    kind = _kind_of(effect)
    if kind == "recommend":
        return f"+{effect.weight:g} {effect.recommend}"
    if kind == "discourage":
        return f"-{effect.weight:g} {effect.discourage}"
    if kind == "veto":
        return f"veto {effect.veto}"
    if kind == "search":
        if effect.choices is not None:
            return f"{effect.search}.{effect.param} in {effect.choices}"
        log = " (log)" if effect.log else ""
        return (
            f"{effect.search}.{effect.param} {effect.mode} [{effect.low:g}, {effect.high:g}]{log}"
        )
    if kind == "set":
        return f"{effect.set}.{effect.param} = {effect.value!r}"
    if kind == "stage":
        return f"{effect.stage} at stage {effect.at}"
    if kind == "transforms":
        return f"transforms {effect.transforms} {', '.join(effect.names)}"
    if kind == "note":
        return f"note on {effect.on or 'plan'}"
    return "defer regularizers"


@dataclass
class RuleSet:
    """The rules the engine evaluates, built-ins first, then user rules (which may override).

    Example:
        >>> rules = load_rules()
        >>> rules.get("FIT-001").title  # doctest: +ELLIPSIS
        'Overfitting...'
    """

    rules: list[Rule]
    files: list[Path] = field(default_factory=list)
    overridden: dict[str, Rule] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def ids(self) -> list[str]:
        return [r.id for r in self.rules]


def builtin_rules_dir() -> Path:
    """The folder of the built-in rules: ``advisor/rules`` in a wheel, ``rules/`` in a checkout."""
    import advisor

    package = Path(advisor.__file__).resolve().parent
    for candidate in (package / "rules", package.parent / "rules"):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    raise RuleError(
        f"built-in rules not found in {package / 'rules'} or {package.parent / 'rules'}; reinstall advisor."
    )


# --------------------------------------------------------------------------- loading


def _loc(loc: Sequence[Any]) -> str:
    """``('effects', 2, 'search', 'low')`` -> ``effects[2].low`` (the middle part is the
    discriminator tag pydantic adds, which repeats the effect kind)."""
    parts = list(loc)
    if (
        len(parts) >= 3
        and parts[0] == "effects"
        and isinstance(parts[1], int)
        and parts[2] in _EFFECT_KINDS
    ):
        del parts[2]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "rule"


def _msg(error: Mapping[str, Any]) -> str:
    # Our validators raise ValueError; pydantic prefixes its text with "Value error, ".
    return str(error["msg"]).removeprefix("Value error, ")


def _check_placeholders(text: str) -> str | None:
    for _, name, spec, conv in string.Formatter().parse(text):
        if name is None:
            continue
        if not re.fullmatch(r"[a-z_]+", name) or spec or conv:
            return f"placeholder '{{{name}}}' must be a plain fact name like {{samples}}"
        if name not in FACT_SPECS:
            return f"placeholder '{{{name}}}' is not a fact{_did_you_mean(name, FACT_SPECS)}"
    return None


def _value_problem(default: Any, value: Any) -> str | None:
    """A starting value must have the type of the parameter's default (bool, number, text, list)."""
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok, kind = isinstance(value, int | float) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a text"
    else:
        ok, kind = isinstance(value, list), "a list"
    if not ok:
        return f"must be {kind}, got {value!r}"
    # Every numeric parameter of the catalogue (rates, strengths, patience) is non-negative.
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return f"must be >= 0, got {value!r}"
    return None


def _semantic_problems(model: RuleModel) -> list[tuple[str, str]]:
    """(field, problem) pairs the schema alone cannot see."""
    problems: list[tuple[str, str]] = []
    for i, effect in enumerate(model.effects):
        kind = _kind_of(effect)
        where = f"effects[{i}]"
        if kind == "search":
            technique = TECHNIQUES[effect.search]
            if effect.param not in technique.params:
                allowed = ", ".join(technique.params) or "none"
                problems.append(
                    (
                        f"{where}.param",
                        f"'{effect.param}' is not a parameter of {effect.search} (parameters: {allowed})",
                    )
                )
            if effect.choices is None:
                if effect.low is None or effect.high is None:
                    problems.append((where, "a search effect needs low and high, or choices"))
                elif effect.low > effect.high:
                    problems.append((where, f"low {effect.low:g} is above high {effect.high:g}"))
                elif effect.log and effect.low <= 0:
                    problems.append((where, f"a log range needs low > 0, got {effect.low:g}"))
            elif not effect.choices:
                problems.append((f"{where}.choices", "choices must not be empty"))
        if kind == "set" and effect.param not in TECHNIQUES[effect.set].params:
            allowed = ", ".join(TECHNIQUES[effect.set].params) or "none"
            problems.append(
                (
                    f"{where}.param",
                    f"'{effect.param}' is not a parameter of {effect.set} (parameters: {allowed})",
                )
            )
        elif kind == "set":
            problem = _value_problem(TECHNIQUES[effect.set].params[effect.param], effect.value)
            if problem:
                problems.append((f"{where}.value", problem))
        if kind == "note":
            problem = _check_placeholders(effect.note)
            if problem:
                problems.append((f"{where}.note", problem))
    for kind in ("fire", "no_fire"):
        for j, case in enumerate(getattr(model.cases, kind)):
            try:
                facts_from_case(case, where="case")
            except AdvisorError as exc:
                problems.append((f"cases.{kind}[{j}]", str(exc).removeprefix("case: ")))
    return problems


def _parse_file(path: Path, *, builtin: bool) -> tuple[list[Rule], list[str]]:
    rules: list[Rule] = []
    problems: list[str] = []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return [], [f"{path}: is not valid TOML: {exc}"]
    try:
        file_model = FileModel.model_validate(data)
    except ValidationError as exc:
        return [], [f"{path}: {_loc(e['loc'])}: {_msg(e)}" for e in exc.errors()]
    for index, raw in enumerate(file_model.rules):
        rid = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index + 1}"
        prefix = f"{path}: rule {rid}"
        try:
            model = RuleModel.model_validate(raw)
        except ValidationError as exc:
            problems.extend(f"{prefix}: {_loc(e['loc'])}: {_msg(e)}" for e in exc.errors())
            continue
        try:
            condition = Condition(model.when)
        except ConditionError as exc:
            problems.append(f"{prefix}: when: {exc}")
            continue
        semantic = _semantic_problems(model)
        problems.extend(f"{prefix}: {where}: {what}" for where, what in semantic)
        if semantic:
            continue
        rules.append(
            Rule(
                id=model.id,
                slug=model.slug,
                title=model.title,
                guidance=tuple(model.guidance),
                condition=condition,
                effects=tuple(model.effects),
                rationale=" ".join(model.rationale.split()),
                fix=" ".join(model.fix.split()),
                source=model.source,
                concern=file_model.concern,
                path=path,
                builtin=builtin,
                enabled=model.enabled,
                override=model.override,
                cases={"fire": list(model.cases.fire), "no_fire": list(model.cases.no_fire)},
            )
        )
    return rules, problems


def _rule_files(directory: Path) -> list[Path]:
    if not directory.exists():
        raise RuleError(
            f"rules folder {directory} does not exist; pass an existing folder of *.toml rule files."
        )
    if directory.is_file():
        return [directory]
    # Files load in the order of the concerns (fit state first), then any others by name;
    # later "set" effects win, so the order is part of the behaviour.
    files = sorted(
        directory.glob("*.toml"), key=lambda p: (_FILE_ORDER.get(p.stem, len(_FILE_ORDER)), p.name)
    )
    if not files:
        raise RuleError(
            f"rules folder {directory} holds no *.toml rule file; add one or drop the option."
        )
    return files


def load_rule_files(paths: Iterable[Path], *, builtin: bool) -> tuple[list[Rule], list[str]]:
    """Parse rule files; return the valid rules and every problem found (no exception)."""
    rules: list[Rule] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in paths:
        found, trouble = _parse_file(path, builtin=builtin)
        problems.extend(trouble)
        for rule in found:
            if rule.id in seen:
                problems.append(
                    f"{path}: rule {rule.id}: id: duplicate of the rule in {seen[rule.id]}; ids are permanent and unique"
                )
                continue
            seen[rule.id] = path
            rules.append(rule)
    return rules, problems


@functools.lru_cache(maxsize=1)
def _builtin() -> tuple[tuple[Rule, ...], tuple[Path, ...]]:
    directory = builtin_rules_dir()
    files = _rule_files(directory)
    rules, problems = load_rule_files(files, builtin=True)
    for rule in rules:
        if rule.override:
            problems.append(
                f"{rule.path}: rule {rule.id}: override: built-in rules cannot override"
            )
    if problems:
        raise RuleError(
            f"{len(problems)} problem(s) in the built-in rules under {directory}; this is a bug in advisor.",
            problems,
        )
    return tuple(rules), tuple(files)


def _merge(
    builtin: Sequence[Rule], user: Sequence[Rule], problems: list[str]
) -> tuple[list[Rule], dict[str, Rule]]:
    merged = list(builtin)
    index = {r.id: i for i, r in enumerate(merged)}
    overridden: dict[str, Rule] = {}
    for rule in user:
        if rule.id in index:
            if not rule.override:
                problems.append(
                    f"{rule.path}: rule {rule.id}: id: a built-in rule has this id; "
                    "set override = true to replace it, or pick a new id"
                )
                continue
            overridden[rule.id] = merged[index[rule.id]]
            merged[index[rule.id]] = rule
        else:
            if rule.override:
                problems.append(
                    f"{rule.path}: rule {rule.id}: override: no built-in rule {rule.id} to override"
                )
                continue
            index[rule.id] = len(merged)
            merged.append(rule)
    return merged, overridden


def load_rules(extra_dirs: Iterable[str | Path] = (), *, builtin: bool = True) -> RuleSet:
    """Load the built-in rules plus the rule files of ``extra_dirs`` (folders or files).

    A user rule whose id equals a built-in id replaces it only with ``override = true``;
    ``enabled = false`` on such an override switches the built-in rule off.

    Raises:
        RuleError: every problem of every file, each as ``FILE: rule ID: FIELD: problem``.

    Example:
        >>> rules = load_rules()
        >>> len(rules) > 20
        True
    """
    base: tuple[Rule, ...] = ()
    files: list[Path] = []
    if builtin:
        base, base_files = _builtin()
        files.extend(base_files)
    user_files: list[Path] = []
    problems: list[str] = []
    for folder in extra_dirs:
        try:
            user_files.extend(_rule_files(Path(folder)))
        except RuleError as exc:
            problems.append(str(exc))
    user, trouble = load_rule_files(user_files, builtin=False)
    problems.extend(trouble)
    merged, overridden = _merge(base, user, problems)
    if problems:
        where = ", ".join(str(d) for d in extra_dirs)
        raise RuleError(
            f"{len(problems)} problem(s) in the rule files under {where}; run 'advisor rules lint' on them.",
            problems,
        )
    return RuleSet(merged, files + user_files, overridden)


def _probe_namespaces() -> list[dict[str, Any]]:
    """Fact sets every condition is evaluated on by lint, cases or not: nothing known, every
    number fact at the low and at the high end of its range (the cost bound), and every fact
    known (text and yes/no facts too)."""
    from advisor.engine._facts import FACT_SPECS

    unknown = dict.fromkeys(FACT_SPECS)
    low, high = dict(unknown), dict(unknown)
    for name, spec in FACT_SPECS.items():
        if spec.kind in ("int", "float"):
            low[name] = spec.minimum if spec.minimum is not None else 0
            high[name] = spec.maximum if spec.maximum is not None else 1e12
            if spec.kind == "int":
                low[name], high[name] = int(low[name]), int(high[name])
    known = dict(high)
    for name, spec in FACT_SPECS.items():
        if spec.kind == "enum":
            known[name] = spec.choices[0]
        elif spec.kind == "bool":
            known[name] = True
    return [unknown, low, high, known]


def run_cases(rule: Rule) -> list[str]:
    """Run a rule's test cases; return a problem per case that does not behave as declared.

    The condition is also evaluated on unknown facts and on every number fact at both ends of
    its range, so a condition that cannot be evaluated (``9**9**9**9 > 1``, a string in
    arithmetic) is a lint problem even for a rule without cases.
    """
    problems = []
    for namespace in _probe_namespaces():
        try:
            rule.condition.evaluate(namespace)
        except ConditionError as exc:
            problems.append(f"{rule.path}: rule {rule.id}: when: {exc}")
            return problems
    for kind, expected in (("fire", True), ("no_fire", False)):
        for j, case in enumerate(rule.cases.get(kind, [])):
            facts = facts_from_case(case, where=f"{rule.path}: rule {rule.id}: cases.{kind}[{j}]")
            try:
                fired = rule.condition.evaluate(facts.namespace())
            except ConditionError as exc:
                problems.append(f"{rule.path}: rule {rule.id}: when: {exc}")
                continue
            if fired != expected:
                verb = "does not fire" if expected else "fires"
                problems.append(
                    f"{rule.path}: rule {rule.id}: cases.{kind}[{j}]: the rule {verb} on {case}"
                )
    return problems


def lint_rules(
    directory: str | Path, *, require_cases: bool = False
) -> tuple[list[Rule], list[str]]:
    """Check the rule files of ``directory`` (a folder or one file) without raising.

    Checks the schema, the conditions, overrides against the built-in ids, and runs each
    rule's test cases. Returns the valid rules and the problems found (empty when clean).

    Example:
        >>> rules, problems = lint_rules(builtin_rules_dir(), require_cases=True)
        >>> problems
        []
    """
    path = Path(directory)
    try:
        files = _rule_files(path)
    except RuleError as exc:
        return [], [str(exc)]
    builtin_dir = builtin_rules_dir()
    is_builtin = path.resolve() == builtin_dir.resolve()
    rules, problems = load_rule_files(files, builtin=is_builtin)
    if not is_builtin:
        base, _ = _builtin()
        _merge(base, rules, problems)
    for rule in rules:
        if require_cases or is_builtin:
            for kind in ("fire", "no_fire"):
                if not rule.cases.get(kind):
                    problems.append(
                        f"{rule.path}: rule {rule.id}: cases.{kind}: needs at least one case"
                    )
        problems.extend(run_cases(rule))
    return rules, problems
