"""Loading rule files: parse, check, merge user rules over the built-in ones.

The built-in rules live in the top-level ``rules/`` folder of the repository and ship inside
the wheel as ``advisor/rules/``. Every problem of every file is collected and raised together
as one ``RuleError`` whose ``problems`` read ``FILE: rule ID: FIELD: what is wrong``.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor._validation import did_you_mean
from advisor.catalogue import TECHNIQUES
from advisor.engine._expr import Condition, ConditionError
from advisor.engine._facts import FACT_SPECS, facts_from_case
from advisor.engine._rule import Rule, RuleSet
from advisor.engine._rule_schema import EFFECT_KINDS, FileModel, RuleModel, kind_of
from advisor.errors import AdvisorError, RuleError

__all__ = ["builtin_rules_dir", "load_rule_files", "load_rules", "rule_files"]

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


def builtin_rules_dir() -> Path:
    """The folder of the built-in rules: ``advisor/rules`` in a wheel, ``rules/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent  # advisor/
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
        and parts[2] in EFFECT_KINDS
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
            return f"placeholder '{{{name}}}' is not a fact{did_you_mean(name, FACT_SPECS, parens=True)}"
    return None


def _semantic_problems(model: RuleModel) -> list[tuple[str, str]]:
    """(field, problem) pairs the schema alone cannot see."""
    problems: list[tuple[str, str]] = []
    for i, effect in enumerate(model.effects):
        kind = kind_of(effect)
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
            # The catalogue's own checks (type and range), as a problem instead of an exception.
            problem = TECHNIQUES[effect.set].params[effect.param].check_type(effect.value)
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


def rule_files(directory: Path) -> list[Path]:
    """The ``*.toml`` rule files of ``directory``, in load order (a file is returned alone).

    Files named after the built-in concerns (``fit_state``, ``dataset_size`` ...) come first in
    that order, then the others by name; later ``set`` effects win, so the order matters.

    Raises:
        RuleError: the folder does not exist or holds no ``*.toml`` file.
    """
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
    files = rule_files(directory)
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
            user_files.extend(rule_files(Path(folder)))
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
