"""``advisor rules list|show|lint`` end to end."""

from __future__ import annotations

import json

import pytest

from advisor.cli._main import main
from advisor.engine import load_rules


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(autouse=True)
def _no_pyproject(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_list_text_and_json(capsys):
    code, out, _ = run(["rules", "list"], capsys)
    assert code == 0 and "FIT-001" in out and "G3.4" in out
    code, out, _ = run(["rules", "list", "--format", "json"], capsys)
    data = json.loads(out)
    assert len(data) == len(load_rules())
    fit = next(r for r in data if r["id"] == "FIT-001")
    assert fit["concern"] == "fit state" and "l2" in fit["techniques"]


def test_show_explains_a_rule(capsys):
    code, out, _ = run(["rules", "show", "task-002"], capsys)
    assert code == 0
    for heading in ("What it does:", "Why:", "Example (fires):", "What to do:", "Guidance:"):
        assert heading in out
    assert "no_flip" in out


def test_show_json(capsys):
    _code, out, _ = run(["rules", "show", "FIT-001", "--format", "json"], capsys)
    data = json.loads(out)
    assert data["id"] == "FIT-001" and data["cases"]["fire"]


def test_show_unknown_id(capsys):
    code, _out, err = run(["rules", "show", "FIT-01"], capsys)
    assert code == 2 and "Did you mean 'FIT-010'" in err


def test_lint_clean(capsys, tmp_path):
    (tmp_path / "r.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "x"\ntitle = "Test rule"\n'
        'when = "samples < 10"\neffects = [{ recommend = "l2", weight = 1 }]\n'
        'rationale = "Only for the lint test."\nfix = "Nothing to do."\nsource = "test"\n'
        "cases.fire = [{ samples = 5 }]\ncases.no_fire = [{ samples = 50 }]\n",
        encoding="utf-8",
    )
    code, out, err = run(["rules", "lint", str(tmp_path)], capsys)
    assert code == 0, err
    assert "1 rules, 2 test cases: no problems" in out


def test_lint_lists_every_problem(capsys, tmp_path):
    (tmp_path / "a.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "FIT-001"\nslug = "x"\ntitle = "Test rule"\n'
        'when = "sampels < 10"\neffects = [{ recommend = "l3", weight = 1 }]\n'
        'rationale = "Only for the lint test."\nfix = "Nothing to do."\nsource = "test"\n',
        encoding="utf-8",
    )
    (tmp_path / "b.toml").write_text("not toml [", encoding="utf-8")
    code, out, err = run(["rules", "lint", str(tmp_path)], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("advisor: error:") and "problem(s)" in lines[0]
    text = "\n".join(lines[1:])
    assert "a.toml: rule FIT-001: effects[0].recommend" in text
    assert "b.toml: is not valid TOML" in text


def test_lint_builtin_folder_is_clean(capsys):
    from advisor.engine import builtin_rules_dir

    code, _out, err = run(["rules", "lint", str(builtin_rules_dir()), "--require-cases"], capsys)
    assert code == 0, err


def test_lint_missing_folder(capsys, tmp_path):
    code, _, err = run(["rules", "lint", str(tmp_path / "nope")], capsys)
    assert code == 2 and "does not exist" in err


def test_show_examples_are_commands_that_fire_the_rule(capsys):
    from advisor.cli._rules import _example

    checked = 0
    for rule in load_rules():
        example = _example(rule)
        if not example.startswith("advisor recommend"):
            continue
        argv = [*example.split()[1:], "--format", "json"]
        code, out, err = run(argv, capsys)
        assert code == 0, err
        assert rule.id in json.loads(out)["fired"], example
        checked += 1
    assert checked >= 30


def test_show_user_override(capsys, tmp_path):
    (tmp_path / "r.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "FIT-001"\noverride = true\nslug = "x"\ntitle = "Our overfitting rule"\n'
        'when = "fit == \'overfitting\'"\neffects = [{ recommend = "l2", weight = 1 }]\n'
        'rationale = "Team version of the overfitting rule."\nfix = "Nothing to do."\nsource = "team"\n',
        encoding="utf-8",
    )
    code, out, err = run(["rules", "show", "FIT-001", "--rules", str(tmp_path)], capsys)
    assert code == 0, err
    assert "Our overfitting rule" in out and "overrides the built-in rule of fit_state.toml" in out
