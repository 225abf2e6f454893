"""The CLI shell: one-line errors with exit code 2, config into default_map, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from advisor.cli import _main
from advisor.errors import AdvisorError, RuleError


def run_main(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _main.main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_unknown_command_is_one_line_exit_2(capsys):
    code, _, err = run_main(["no-such-command"], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("advisor: error: No such command 'no-such-command'")


def test_help_exits_0_and_lists_commands(capsys):
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0
    for name in ("diagnose", "check", "recommend", "rules", "tune"):
        assert name in out


@pytest.fixture
def fake_command(monkeypatch):
    """Register a throw-away command to exercise the error mapping without other subpackages."""

    @click.command()
    @click.option("--max-gap", type=float, default=None)
    @click.option("--raise-kind", default="none")
    def fake(max_gap, raise_kind):
        if raise_kind == "advisor":
            raise AdvisorError("run.csv: no validation series;\n log one.")
        if raise_kind == "rules":
            raise RuleError(
                "2 problems in rules/",
                problems=["a.toml: rule X: when: bad", "b.toml: rule Y: id: dup"],
            )
        if raise_kind == "missing":
            Path("/nonexistent/file.csv").read_text()
        click.echo(f"max_gap={max_gap}")
        return 0

    module = type(sys)("advisor_fake_cmd")
    module.fake = fake
    monkeypatch.setitem(sys.modules, "advisor_fake_cmd", module)
    monkeypatch.setitem(_main._COMMANDS, "fake", ("advisor_fake_cmd:fake", "test"))
    return fake


def test_advisor_error_is_one_line(fake_command, capsys):
    code, _, err = run_main(["fake", "--raise-kind", "advisor"], capsys)
    assert code == 2
    assert err == "advisor: error: run.csv: no validation series; log one.\n"


def test_rule_error_lists_every_problem(fake_command, capsys):
    code, _, err = run_main(["fake", "--raise-kind", "rules"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "advisor: error: 2 problems in rules/",
        "  - a.toml: rule X: when: bad",
        "  - b.toml: rule Y: id: dup",
    ]


def test_missing_file_is_one_line(fake_command, capsys):
    code, _, err = run_main(["fake", "--raise-kind", "missing"], capsys)
    assert code == 2
    assert "/nonexistent/file.csv" in err and "Traceback" not in err


def test_bad_option_value_is_one_line(fake_command, capsys):
    code, _, err = run_main(["fake", "--max-gap", "lots"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "'lots' is not a valid float" in err


def test_config_fills_defaults_and_flags_win(fake_command, capsys, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor.fake]\nmax-gap = 0.25\n")
    monkeypatch.chdir(tmp_path)
    assert run_main(["fake"], capsys)[1] == "max_gap=0.25\n"
    assert run_main(["fake", "--max-gap", "0.5"], capsys)[1] == "max_gap=0.5\n"


def test_unknown_config_key_is_an_error(fake_command, capsys, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor.fake]\nmax-gapp = 0.25\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["fake"], capsys)
    assert code == 2 and "Did you mean 'max-gap'" in err


def test_unknown_shared_key_is_an_error(fake_command, capsys, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor]\ntaks = 'image'\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["fake"], capsys)
    assert code == 2 and "Did you mean 'task'" in err


def test_import_advisor_does_not_import_torch():
    code = "import sys, advisor, advisor.cli; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_lazy_attribute_errors_are_clear():
    import advisor

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        advisor.nope  # noqa: B018


def test_subpackages_are_reachable_as_attributes():
    code = (
        "import sys, advisor; r = advisor.report; assert r.__name__ == 'advisor.report';"
        "assert callable(advisor.report.write_report); assert advisor.curves.load_curves;"
        "assert callable(advisor.check) and advisor.gate.CheckReport is advisor.CheckReport; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
