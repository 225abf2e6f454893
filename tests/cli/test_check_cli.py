"""``advisor check`` end to end: exit codes, formats, config from pyproject.toml, baseline, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from advisor.cli._main import main

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT / "tests" / "data" / "real" / "mnist20k-v0.csv"


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture()
def overfit_csv(tmp_path):
    rows = ["epoch,train_loss,val_loss,val_acc"]
    for e in range(40):
        train = 2.0 * 0.9**e + 0.05
        val = 0.5 + 2.0 * 0.85**e + 0.002 * max(e - 12, 0) ** 1.5
        rows.append(f"{e},{train:.5f},{val:.5f},{0.5 + 0.3 * (1 - 0.9**e):.4f}")
    path = tmp_path / "overfit.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_pass_exit_0(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["check", str(MNIST)], capsys)
    assert code == 0, err
    assert "PASSED" in out and "fit verdict" in out


def test_fail_exit_1(capsys, overfit_csv, monkeypatch):
    monkeypatch.chdir(overfit_csv.parent)
    code, out, _ = run(["check", str(overfit_csv), "--format", "json"], capsys)
    assert code == 1
    data = json.loads(out)
    assert data["checks"][0]["status"] == "FAIL" and data["fit"]["verdict"] == "overfitting"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"epoch,train_loss,val_loss\n0,0.5,0.6\n", "epoch"),
        (b"epoch,train_loss\n0,0.5\n1,0.4\n2,0.3\n", "validation"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "metrics.csv"),
    ],
    ids=["empty", "one-epoch", "no-validation", "binary"],
)
def test_bad_input_exit_2_one_line(capsys, tmp_path, monkeypatch, content, needle):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "metrics.csv"
    path.write_bytes(content)
    code, _out, err = run(["check", str(path)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("advisor: error: ") and str(path) in lines[0]
    assert needle in lines[0]
    assert "Traceback" not in err


def test_directory_without_logs_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    code, _, err = run(["check", str(tmp_path / "empty")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_unknown_flag_and_bad_fail_on_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(["check", str(MNIST), "--max-gapp", "1"], capsys)[0] == 2
    code, _, err = run(["check", str(MNIST), "--fail-on", "overfit"], capsys)
    assert code == 2 and "fail_on" in err


def test_config_from_pyproject_and_flags_win(capsys, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.advisor.check]\nmax-gap = -1.0\nfail-on = ["diverging"]\n'
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["check", str(MNIST), "--format", "json"], capsys)
    data = json.loads(out)
    gap = next(c for c in data["checks"] if c["id"] == "max_gap")
    assert gap["threshold"] == -1.0 and gap["status"] == "FAIL" and code == 1
    assert data["checks"][0]["threshold"] == ["diverging"]
    code, out, _ = run(["check", str(MNIST), "--format", "json", "--max-gap", "1.0"], capsys)
    assert (
        code == 0
        and next(c for c in json.loads(out)["checks"] if c["id"] == "max_gap")["threshold"] == 1.0
    )


def test_unknown_config_key_exit_2(capsys, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor.check]\nmax-gapp = 1.0\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["check", str(MNIST)], capsys)
    assert code == 2 and "max-gap" in err


def test_update_then_compare_baseline(capsys, tmp_path, monkeypatch, overfit_csv):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "advisor-baseline.json"
    code, _, err = run(["check", str(MNIST), "--baseline", str(base), "--update-baseline"], capsys)
    assert code == 0 and "wrote baseline" in err and base.is_file()
    assert json.loads(base.read_text())["primary"] == "val_loss"
    assert json.loads(base.read_text())["advisor_baseline"] == 2
    code, out, _ = run(["check", str(MNIST), "--baseline", str(base), "--format", "json"], capsys)
    assert code == 0
    assert {c["id"] for c in json.loads(out)["checks"]} >= {"baseline.best_val", "baseline.gap"}
    # A clearly worse run regresses against the MNIST baseline.
    code, out, _ = run(
        [
            "check",
            str(overfit_csv),
            "--baseline",
            str(base),
            "--fail-on",
            "none",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 1
    assert (
        next(c for c in json.loads(out)["checks"] if c["id"] == "baseline.best_val")["status"]
        == "FAIL"
    )


def test_missing_baseline_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["check", str(MNIST), "--baseline", "nope.json"], capsys)
    assert code == 2 and "--update-baseline" in err


def test_github_format_and_summary(capsys, tmp_path, monkeypatch, overfit_csv):
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = run(["check", str(overfit_csv), "--format", "github"], capsys)
    assert code == 1
    assert out.startswith(f"::error file={overfit_csv},title=advisor check%3A fit verdict::FAIL")
    assert "advisor check FAILED" in summary.read_text()


def test_junit_to_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(
        ["check", str(MNIST), "--format", "junit", "--output", "junit.xml", "--max-gap", "1"],
        capsys,
    )
    assert code == 0 and "junit.xml" in err
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.find("testsuite").get("tests") == "2"


def test_check_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from advisor.cli._main import main\n"
        "try:\n"
        f"    main(['check', {str(MNIST)!r}, '--format', 'json'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = [m for m in ('torch', 'optuna', 'sklearn', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_fail_on_as_toml_string(capsys, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.advisor.check]\nfail-on = "good_fit,overfitting"\n'
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["check", str(MNIST), "--format", "json"], capsys)
    assert code == 1 and json.loads(out)["checks"][0]["threshold"] == ["good_fit", "overfitting"]
    code, _, _ = run(["check", str(MNIST), "--fail-on", "none"], capsys)
    assert code == 0


def _seed_csv(path, level, seed, *, keys=("train_loss", "val_loss", "val_acc"), acc_top=0.97):
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = [f"epoch,{','.join(keys)}"]
    for e in range(30):
        val = level + 2 * np.exp(-e / 4) + rng.normal(0, 0.004)
        train = level - 0.05 + 2 * np.exp(-e / 4) + rng.normal(0, 0.004)
        acc = acc_top - 0.5 * np.exp(-e / 4) + rng.normal(0, 0.001)
        rows.append(f"{e},{train:.5f},{val:.5f},{acc:.5f}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture()
def seeds(tmp_path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    return [_seed_csv(folder / f"seed{s}.csv", 0.1, s) for s in range(6)]


def test_baseline_from_several_runs(capsys, tmp_path, monkeypatch, seeds):
    monkeypatch.chdir(tmp_path)
    good = _seed_csv(tmp_path / "good.csv", 0.1, 50)
    args = ["check", str(good), "--baseline-from", *map(str, seeds), "--format", "json"]
    code, out, _ = run(args, capsys)
    data = json.loads(out)
    assert code == 0, out
    assert data["baseline"] == "6 run(s) from --baseline-from"
    assert data["measurements"]["baseline_test"]["n_runs"] == 6
    # Renamed columns and 3x worse: fails (not a silent pass).
    bad = _seed_csv(
        tmp_path / "bad.csv", 0.3, 51, keys=("train_loss", "valid_loss", "val_accuracy")
    )
    code, out, _ = run(
        ["check", str(bad), "--baseline-from", str(seeds[0]), str(seeds[1]), "--format", "json"],
        capsys,
    )
    assert code == 1
    assert {c["id"]: c["status"] for c in json.loads(out)["checks"]}["baseline.best_val"] == "FAIL"
    # A quoted glob works too, and writes the fingerprint with --update-baseline.
    base = tmp_path / "fp.json"
    code, _, err = run(
        [
            "check",
            str(seeds[0]),
            "--baseline-from",
            str(tmp_path / "seeds" / "seed*.csv"),
            "--baseline",
            str(base),
            "--update-baseline",
        ],
        capsys,
    )
    assert code == 0 and "from 6 run(s)" in err
    assert json.loads(base.read_text())["n_runs"] == 6


def test_update_baseline_refuses_a_failing_run_unless_forced(capsys, tmp_path, monkeypatch, seeds):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "advisor-baseline.json"
    code, _, _ = run(
        [
            "check",
            str(seeds[0]),
            "--baseline-from",
            *map(str, seeds[1:]),
            "--baseline",
            str(base),
            "--update-baseline",
        ],
        capsys,
    )
    assert code == 0
    before = base.read_bytes()
    bad = _seed_csv(tmp_path / "bad.csv", 0.3, 60)
    code, _, err = run(["check", str(bad), "--baseline", str(base), "--update-baseline"], capsys)
    assert code == 1 and "not updated" in err and "--force" in err
    assert base.read_bytes() == before
    code, _, err = run(
        ["check", str(bad), "--baseline", str(base), "--update-baseline", "--force"], capsys
    )
    assert code == 0 and "wrote baseline" in err
    assert json.loads(base.read_text())["sources"] == [str(bad)]


def test_sarif_format(capsys, tmp_path, monkeypatch, overfit_csv):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["check", str(overfit_csv), "--format", "sarif"], capsys)
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    result = log["runs"][0]["results"][0]
    assert result["ruleId"] == "verdict" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "overfit.csv"
