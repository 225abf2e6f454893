import json
import sys
from pathlib import Path

import pytest

from advisor.cli import main

TUNING = Path(__file__).resolve().parent.parent / "tuning"
sys.path.insert(0, str(TUNING))
from tune_models import STACK, write_blobs  # noqa: E402


def _run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default storage .advisor/ lands in the temp dir
    write_blobs(tmp_path / "d.npz", n=90)
    (tmp_path / "stack.json").write_text(json.dumps(STACK))
    return tmp_path


BASE = [
    "tune",
    "--model",
    f"{TUNING / 'tune_models.py'}:tiny_mlp",
    "--data",
    "d.npz",
    "--task",
    "classification",
    "--folds",
    "3",
    "--epochs",
    "2",
    "--batch-size",
    "32",
]


@pytest.mark.slow
def test_json_output_refit_and_saved_stack(inputs, capsys):
    code, out, err = _run(
        [
            *BASE,
            "--stack",
            "stack.json",
            "--trials",
            "2",
            "--format",
            "json",
            "--refit",
            "best.pt",
            "--save-stack",
            "best.json",
        ],
        capsys,
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["n_trials"] == 2 and d["storage"] == "journal:.advisor/tune.journal"
    assert d["refit"]["path"] == "best.pt" and (inputs / "best.pt").is_file()
    saved = json.loads((inputs / "best.json").read_text())
    if d["beats_baseline"]:
        assert (
            saved["pieces"][0]["params"]["weight_decay"] == d["best"]["params"]["l2.weight_decay"]
        )
    else:  # keep the current setup: the saved stack adds nothing
        assert saved["pieces"] == [] and d["best"]["params"] == {}
        (inputs / "best.json").write_text(json.dumps(d["candidate"]["stack"]))
    # The saved stack is loadable by --stack: a rerun under a new study name works from it.
    code, out, err = _run(
        [*BASE, "--stack", "best.json", "--trials", "1", "--study", "again", "--format", "json"],
        capsys,
    )
    assert code == 0, err and json.loads(out)["study_name"] == "again"


def test_text_output(inputs, capsys):
    code, out, err = _run(
        [*BASE, "--stack", "stack.json", "--trials", "1", "--folds-mode", "sequential"], capsys
    )
    assert code == 0, err
    flat = " ".join(out.split())  # the table wraps at the terminal's width
    assert "your current setup (no added" in flat and "(chosen)" in flat
    assert "folds sequential (requested)" in flat
    first = out.splitlines()[1]  # the verdict comes first, right under the title
    assert "beats your current setup beyond noise" in first or "keep it" in first


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "nofactory"], "must look like path/to/file.py:factory"),
        (["--model", "missing_file.py:make"], "does not exist"),
        (["--data", "nothere.npz"], "no such data file"),
        (["--epochs", "0"], "--epochs must be an int >= 1, got 0"),
        (["--trials", "0"], "--trials"),
        (["--folds", "1"], "--folds"),
        (["--later-stages", "-1"], "--later-stages"),
    ],
)
def test_bad_input_is_one_line_exit_2(inputs, capsys, argv, message):
    args = [*BASE, "--stack", "stack.json"]
    for flag, value in zip(argv[::2], argv[1::2]):
        i = args.index(flag) if flag in args else None
        if i is None:
            args += [flag, value]
        else:
            args[i + 1] = value
    code, _out, err = _run(args, capsys)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_stack_from_the_rules_engine_when_no_stack_is_given(inputs, capsys):
    code, out, err = _run(
        [*BASE, "--fit", "overfitting", "--trials", "1", "--epochs", "1", "--format", "json"],
        capsys,
    )
    assert code == 0, err
    d = json.loads(out)
    techniques = [p["technique"] for p in d["candidate"]["stack"]["pieces"]]
    # one weight penalty (the catalogue's conflicts keep l1/l2/elastic_net exclusive)
    penalties = {"l1", "l2", "elastic_net"} & set(techniques)
    assert len(penalties) == 1 and d["space"] == "rules"


@pytest.mark.slow
def test_later_stages_limits_the_plan_to_its_first_stages(inputs, capsys):
    import advisor

    argv = [*BASE, "--fit", "overfitting", "--trials", "1", "--epochs", "1", "--format", "json"]
    argv += ["--search", "flat"]  # one space: the plan's first stages, searched together
    code, out, err = _run([*argv, "--later-stages", "0", "--study", "s0"], capsys)
    assert code == 0, err
    stage_one = [p["technique"] for p in json.loads(out)["candidate"]["stack"]["pieces"]]
    plan = advisor.recommend(
        task="tabular", samples=90, classes=3, fit="overfitting", batch_size=32
    )
    stages = {p["technique"]: p["stage"] for p in plan.to_stack()["pieces"]}
    assert stage_one and all(stages[t] == 1 for t in stage_one)
    code, out, err = _run([*argv, "--study", "all"], capsys)
    assert code == 0, err
    assert len(json.loads(out)["candidate"]["stack"]["pieces"]) > len(stage_one)


@pytest.mark.slow
def test_stack_from_advisor_diagnose_of_real_curves(inputs, capsys, bundled_real_dir):
    curves = bundled_real_dir / "mnist20k-v0.csv"
    code, out, err = _run(
        [*BASE, "--curves", str(curves), "--trials", "1", "--epochs", "1", "--format", "json"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["candidate"]["stack"]["pieces"]  # the diagnosis recommended a stack


_BAD_MODELS = """
import torch
from torch import nn


def raises():
    raise ValueError("hidden size must be even")


def wide():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def two_classes():
    return nn.Sequential(nn.Linear(6, 2))


def not_a_module():
    return 42
"""


@pytest.mark.parametrize(
    ("model", "needles"),
    [
        ("bad_models.py:raises", ["raised ValueError: hidden size must be even"]),
        ("broken_import.py:make", ["importing", "ModuleNotFoundError", "no_such_package_xyz"]),
        ("syntax_error.py:make", ["importing", "failed at line 1", "SyntaxError"]),
        ("bad_models.py:wide", ["(8, 6)", "inputs of width 8", "first layer 0: Linear"]),
        ("bad_models.py:two_classes", ["shape (8, 2)", "3 classes", "output 3 logits"]),
        ("bad_models.py:not_a_module", ["must return a torch.nn.Module, got int"]),
    ],
)
def test_broken_model_is_one_line_and_creates_nothing(inputs, capsys, model, needles):
    (inputs / "bad_models.py").write_text(_BAD_MODELS)
    (inputs / "broken_import.py").write_text("import no_such_package_xyz\n")
    (inputs / "syntax_error.py").write_text("def make(:\n")
    args = [*BASE, "--stack", "stack.json", "--trials", "1"]
    args[args.index("--model") + 1] = model
    code, out, err = _run(args, capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert err.count("\n") == 1 and all(n in err for n in needles), err
    assert not (inputs / ".advisor").exists()  # no journal before the input is validated


@pytest.mark.parametrize(
    ("labels", "needle"),
    [
        ("single", "the labels hold a single class (0, all 90 samples)"),
        ("rare", "the rarest class has 2 samples, fewer than folds=3; pass --folds 2"),
    ],
)
def test_bad_labels_are_one_line_and_create_nothing(inputs, capsys, labels, needle):
    import numpy as np

    X = np.random.default_rng(0).normal(size=(90, 6)).astype("float32")
    y = np.zeros(90, dtype=np.int64)
    if labels == "rare":
        y[:45], y[-2:] = 1, 2
    np.savez(inputs / "d.npz", X=X, y=y)
    for extra in ([], ["--fit", "overfitting"]):  # with --stack, and from the rules engine
        stack = ["--stack", "stack.json"] if not extra else []
        code, _out, err = _run([*BASE, *stack, *extra, "--trials", "1"], capsys)
        assert code == 2 and needle in err and err.count("\n") == 1, err
        assert not (inputs / ".advisor").exists()
