"""``advisor diagnose`` end to end: JSON schema, text view, report files, bad input, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
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


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pyproject.toml above tmp_path: defaults only


def test_json_schema(capsys):
    code, out, err = run(["diagnose", str(MNIST), "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"source", "sources", "fit", "model", "weights", "facts", "recommendations"}
    fit = data["fit"]
    assert fit["verdict"] in {"good_fit", "not_converged"}
    assert isinstance(fit["best_index"], int) and 16 <= fit["best_epoch"] <= 20
    assert fit["stop"]["key"] and fit["severity"] is None and "margin" in fit
    assert "onset_index" in fit and isinstance(fit["evidence"], list) and fit["evidence"]
    assert {"best_abs", "best_rel", "end_abs", "end_rel"} <= set(fit["gap"])
    assert data["model"] is None and data["weights"] is None
    assert data["sources"] == [str(MNIST)]


def test_text_shows_panel_plot_and_evidence(capsys):
    code, out, _ = run(["diagnose", str(MNIST)], capsys)
    assert code == 0
    assert "GOOD FIT" in out or "NOT CONVERGED" in out
    assert "evidence" in out and "train" in out and "recommended stopping epoch" in out
    assert any(ch in out for ch in "▁▂▃▄▅▆▇█")


def test_classes_flag_sets_chance_level(capsys):
    code, out, _ = run(["diagnose", str(MNIST), "--format", "json", "--classes", "10"], capsys)
    assert code == 0 and json.loads(out)["fit"]["chance"]["classes"] == 10


def test_html_needs_output_and_refuses_overwrite(capsys, tmp_path):
    code, _, err = run(["diagnose", str(MNIST), "--format", "html"], capsys)
    assert code == 2 and "--output" in err
    target = tmp_path / "report.md"
    target.write_text("keep me")
    code, _, err = run(
        ["diagnose", str(MNIST), "--format", "markdown", "--output", str(target)], capsys
    )
    assert code == 2 and "--force" in err and target.read_text() == "keep me"


@pytest.mark.slow
def test_markdown_report_written_with_force(capsys, tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    code, _, err = run(
        ["diagnose", str(MNIST), "--format", "markdown", "--output", str(target), "--force"], capsys
    )
    assert code == 0, err
    assert target.read_text() != "old" and "wrote markdown report" in err


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("metrics.csv", b"", "empty"),
        ("metrics.csv", b"epoch,train_loss,val_loss\n0,0.5,0.6\n", "epoch"),
        ("metrics.csv", b"epoch,train_loss,val_loss\n0,abc,def\n1,ghi,jkl\n", ""),
        ("metrics.csv", b"foo,bar\n1,2\n3,4\n", ""),
        ("metrics.csv", bytes(range(256)) * 4, ""),
    ],
    ids=["empty", "one-epoch", "non-numeric", "unknown-columns", "binary"],
)
def test_bad_input_exit_2_one_line(capsys, tmp_path, name, content, needle):
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run(["diagnose", str(path)], capsys)
    assert code == 2, out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("advisor: error: ") and str(path) in lines[0]
    assert needle in lines[0] and "Traceback" not in err


def test_missing_path_and_empty_dir_exit_2(capsys, tmp_path):
    code, _, err = run(["diagnose", str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and "no such file" in err
    (tmp_path / "logs").mkdir()
    code, _, err = run(["diagnose", str(tmp_path / "logs")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_nan_run_is_a_verdict_not_an_error(capsys, tmp_path):
    rows = ["epoch,train_loss,val_loss"] + [
        f"{e},{1 / (e + 1):.4f},{1.2 / (e + 1):.4f}" for e in range(10)
    ]
    rows += [f"{e},nan,nan" for e in range(10, 15)]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, _ = run(["diagnose", str(path), "--format", "json"], capsys)
    fit = json.loads(out)["fit"]
    assert code == 0 and fit["verdict"] == "diverging" and fit["first_nonfinite_epoch"] == 10


def test_curve_only_diagnose_does_not_import_torch(tmp_path):
    code = (
        "import sys, io, contextlib\n"
        "from advisor.cli._main import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n"
        f"        main(['diagnose', {str(MNIST)!r}, '--format', 'json'])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "heavy = [m for m in ('torch', 'optuna', 'sklearn', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_rules_dir_from_pyproject_is_used(capsys, tmp_path):
    """`rules-dir = "x"` (one string) in [tool.advisor] reaches diagnose's rule set."""
    rules = tmp_path / "team_rules"
    rules.mkdir()
    (rules / "team.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "always-mixup"\ntitle = "Always mixup"\n'
        "when = \"fit == 'good_fit'\"\n"
        'effects = [{ recommend = "mixup", weight = 50 }, { stage = "mixup", at = 1 }]\n'
        'rationale = "A team preference for the test suite."\nfix = "Use mixup."\nsource = "team"\n',
        encoding="utf-8",
    )
    (tmp_path / "pyproject.toml").write_text(f'[tool.advisor]\nrules-dir = "{rules}"\n')
    code, out, err = run(["diagnose", str(MNIST), "--format", "json"], capsys)
    assert code == 0, err
    assert "mixup" in [r["technique"] for r in json.loads(out)["recommendations"]]


def test_text_code_lines_are_not_cropped(capsys):
    code, out, _ = run(["diagnose", str(MNIST)], capsys)
    assert code == 0
    # the stage-1 snippet must stay copy-pasteable: whole statements, not cut at the width
    assert (
        "stopper = EarlyStopping(monitor='val_loss', mode='min', patience=10, min_delta=0.0, "
        "restore_best=True)" in out
    )


@pytest.mark.parametrize("name", ["model.pt", "model.ckpt", "weights.safetensors"])
def test_corrupt_weights_file_is_reported_as_a_bad_checkpoint(capsys, tmp_path, name):
    bad = tmp_path / name
    bad.write_bytes(b"epoch,loss\n0,1.0\n" + bytes(range(256)))
    code, _, err = run(["diagnose", str(bad)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{bad}:" in err and ("checkpoint" in err or "safetensors file" in err)


def test_training_only_log_is_judged_with_a_caveat(capsys, tmp_path):
    path = tmp_path / "metrics.csv"
    rows = "".join(f"{e},{2.0 * 0.5**e + 0.1:.6f}\n" for e in range(30))
    path.write_text("epoch,train_loss\n" + rows)
    code, out, err = run(["diagnose", str(path), "--format", "json"], capsys)
    assert code == 0, err
    fit = json.loads(out)["fit"]
    assert fit["train_only"] is True and fit["verdict"] == "good_fit"
    assert any("validation series" in c for c in fit["caveats"])


def test_all_nan_loss_is_diverging_with_lower_learning_rate_first(capsys, tmp_path):
    path = tmp_path / "metrics.csv"
    rows = "".join(f"{e},nan,nan,{0.1 + 0.01 * (e % 2):.3f}\n" for e in range(15))
    path.write_text("epoch,train_loss,val_loss,val_acc\n" + rows)
    code, out, err = run(["diagnose", str(path), "--format", "json", "--classes", "10"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["fit"]["verdict"] == "diverging" and result["fit"]["first_nonfinite_epoch"] == 0
    techniques = [r["technique"] for r in result["recommendations"]]
    assert techniques[0] == "lower_learning_rate" and "increase_capacity" not in techniques


def test_accuracy_named_with_val_is_higher_is_better(capsys, tmp_path):
    path = tmp_path / "results.csv"
    rows = "".join(f"{e},{1 / (e + 1):.4f},{min(0.9, 0.3 + 0.05 * e):.4f}\n" for e in range(20))
    path.write_text("epoch,train/loss,metrics/accuracy_top1\n" + rows)
    code, out, err = run(
        ["diagnose", str(path), "--val", "metrics/accuracy_top1", "--format", "json"], capsys
    )
    assert code == 0, err
    fit = json.loads(out)["fit"]
    assert fit["primary"]["mode"] == "max"
    code, out, err = run(["diagnose", str(path), "--metric", "top1", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["fit"]["stop"]["metric"] == "top1"
    code, out, err = run(
        [
            "diagnose",
            str(path),
            "--val",
            "metrics/accuracy_top1",
            "--mode",
            "min",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["fit"]["primary"]["mode"] == "min"


@pytest.mark.parametrize("device", ["cuda:0", "cuda", "cpu", "auto"])
def test_device_takes_cuda_n_as_documented(capsys, device):
    # A curve-only run never moves a model, so the spelling is all that is checked here.
    code, _, err = run(["diagnose", str(MNIST), "--device", device, "--format", "json"], capsys)
    assert code == 0, err


def test_device_with_a_wrong_spelling_is_a_usage_error(capsys):
    code, _, err = run(["diagnose", str(MNIST), "--device", "gpu0"], capsys)
    assert code == 2 and "must be auto, cpu, cuda or cuda:N, got 'gpu0'" in err


def test_declared_facts_name_their_flag_or_pyproject_key(capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor]\nbatch-size = 32\n")
    code, out, err = run(
        ["diagnose", str(MNIST), "--samples", "20000", "--no-flip", "--format", "json"], capsys
    )
    assert code == 0, err
    facts = json.loads(out)["facts"]
    assert facts["samples"]["source"] == "--samples"
    assert facts["no_flip"]["source"] == "--no-flip"
    assert facts["batch_size"]["source"] == "pyproject.toml [tool.advisor] batch-size"
