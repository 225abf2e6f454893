"""``advisor recommend`` end to end: JSON schema, text report, config, errors, exit codes."""

from __future__ import annotations

import json

import pytest

from advisor.cli._main import main

BASE = [
    "recommend",
    "--modality",
    "image",
    "--samples",
    "2000",
    "--params",
    "11e6",
    "--fit",
    "overfitting",
]


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(autouse=True)
def _no_pyproject(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no [tool.advisor] from the project itself


def test_json_schema(capsys):
    code, out, err = run([*BASE, "--budget", "low", "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"facts", "recommendations", "stack", "discouraged", "notes"}
    assert data["facts"]["samples"] == {"value": 2000, "origin": "declared", "source": "--samples"}
    assert data["facts"]["size_class"]["origin"] == "derived"
    first = data["recommendations"][0]
    assert {"technique", "score", "stage", "rules", "rationale", "search_space"} <= set(first)
    assert first["technique"] == "early_stopping"
    assert data["stack"]["version"] == 1
    assert all(p["technique"] != "reduce_regularization" for p in data["stack"]["pieces"])


def test_text_report(capsys):
    code, out, err = run([*BASE, "--no-flip"], capsys)
    assert code == 0, err
    for expected in (
        "Verdict: overfitting",
        "Key facts",
        "--samples",
        "data_augmentation",
        "Stage 1 in PyTorch",
    ):
        assert expected in out, expected


def test_old_task_flag_still_works_with_a_deprecation_note(capsys):
    new = run([*BASE, "--format", "json"], capsys)
    argv = ["--task" if a == "--modality" else a for a in BASE]
    code, out, err = run([*argv, "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["recommendations"] == json.loads(new[1])["recommendations"]
    assert err.strip() == (
        "advisor: note: --task image is deprecated; use --modality image "
        "(the old spelling goes in the next release)."
    )
    facts = json.loads(out)["facts"]
    assert facts["modality"]["source"] == facts["task"]["source"] == "--task (deprecated)"
    code, out, err = run([*BASE, "--objective", "classification", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["facts"]["objective"]["source"] == "--objective"


def test_existing_regularization_flags(capsys):
    code, out, _ = run(
        [
            "recommend",
            "--fit",
            "underfitting",
            "--has-dropout",
            "0.5",
            "--weight-decay",
            "0.01",
            "--has-batchnorm",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0
    data = json.loads(out)
    # EXP-016: dropout 0.5 or more on a model that does not fit is searched below that rate
    assert [r["technique"] for r in data["recommendations"]] == [
        "reduce_regularization",
        "dropout",
        "increase_capacity",
    ]
    assert data["recommendations"][1]["search_space"]["p"]["high"] < 0.5
    assert data["facts"]["dropout_rate"]["value"] == 0.5
    assert data["facts"]["has_batchnorm"]["value"] is True


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["recommend", "--budget", "huge"], "'huge' is not one of"),
        (["recommend", "--samples", "0"], "--samples"),
        (["recommend", "--has-dropout", "1.5"], "--has-dropout"),
        (["recommend", "--fit", "overfit"], "--fit"),
    ],
)
def test_invalid_values_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_pyproject_keys_and_flags_win(capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.advisor]\ntask = "image"\nsamples = 2000\nbudget = "low"\nno-flip = true\n',
        encoding="utf-8",
    )
    code, out, err = run(["recommend", "--budget", "high", "--format", "json"], capsys)
    assert code == 0, err
    facts = json.loads(out)["facts"]
    assert facts["samples"]["value"] == 2000
    assert "pyproject.toml" in facts["samples"]["source"]
    assert facts["budget"] == {"value": "high", "origin": "declared", "source": "--budget"}
    assert facts["no_flip"]["value"] is True


def test_invalid_pyproject_value_exit_2(capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.advisor]\nbudget = "huge"\n', encoding="utf-8")
    code, _, err = run(["recommend"], capsys)
    assert code == 2 and "huge" in err


def test_user_rules_dir_flag_and_config(capsys, tmp_path):
    rules = tmp_path / "myrules"
    rules.mkdir()
    (rules / "team.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "always-mixup"\ntitle = "Always mixup"\n'
        'when = "task == \'image\'"\neffects = [{ recommend = "mixup", weight = 50 }, { stage = "mixup", at = 1 }]\n'
        'rationale = "A team preference for the test suite."\nfix = "Use mixup."\nsource = "team"\n',
        encoding="utf-8",
    )
    code, out, _ = run([*BASE, "--rules", str(rules), "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out)["recommendations"][0]["technique"] == "mixup"
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.advisor]\nrules-dir = "{rules}"\n', encoding="utf-8"
    )
    code, out, err = run([*BASE, "--format", "json"], capsys)
    assert code == 0, err
    assert "mixup" in [r["technique"] for r in json.loads(out)["recommendations"]]


def test_broken_user_rules_exit_2_with_every_problem(capsys, tmp_path):
    rules = tmp_path / "bad"
    rules.mkdir()
    (rules / "team.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\n', encoding="utf-8"
    )
    code, out, err = run([*BASE, "--rules", str(rules)], capsys)
    assert code == 2 and out == ""
    assert "team.toml: rule TEAM-001: slug: Field required" in err
    assert "team.toml: rule TEAM-001: when: Field required" in err


def test_text_snippet_and_stack_are_whole_lines(capsys):
    code, out, _ = run([*BASE, "--classes", "10"], capsys)
    assert code == 0
    lines = out.splitlines()
    start = lines.index("Stage 1 in PyTorch") + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("Stage 1 as a stack spec"))
    compile("\n".join(lines[start:end]), "<stage 1>", "exec")
    stack = json.loads(lines[end + 1])
    assert stack["version"] == 1 and stack["pieces"]


def test_flip_flag_overrides_pyproject_no_flip(capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor]\nno-flip = true\n", encoding="utf-8")
    code, out, _ = run([*BASE, "--flip", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["facts"]["no_flip"] == {"value": False, "origin": "declared", "source": "--no-flip"}
    augmentation = next(r for r in data["recommendations"] if r["technique"] == "data_augmentation")
    assert "flip" in augmentation["params"]["transforms"]


def test_user_rules_listed_as_user(capsys, tmp_path):
    rules = tmp_path / "r"
    rules.mkdir()
    (rules / "team.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "x"\ntitle = "Team rule"\n'
        'when = "samples < 10"\neffects = [{ recommend = "l2", weight = 1 }]\n'
        'rationale = "Only for the listing test."\nfix = "Nothing to do."\nsource = "team"\n',
        encoding="utf-8",
    )
    code, out, _ = run(["rules", "list", "--rules", str(rules), "--format", "json"], capsys)
    assert code == 0
    team = next(r for r in json.loads(out) if r["id"] == "TEAM-001")
    assert team["builtin"] is False and team["concern"] == "team"
    code, out, _ = run(["rules", "list", "--rules", str(rules)], capsys)
    assert code == 0 and "(user)" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--params", "1e300", "--samples", "1", "--classes", "1000000"], "between"),
        (["--params", "1e300"], "--params (declared params): params (number of trainable"),
        (["--samples", "1"], "must be between 2 and 1e+12, got 1"),
        (["--classes", "2000000"], "between 1 and 1,000,000"),
        (["--samples", "50", "--classes", "100"], "samples must be >= classes"),
    ],
)
def test_declared_facts_outside_physical_range_exit_2(capsys, argv, needle):
    code, out, err = run(["recommend", *argv], capsys)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_facts_in_effect_flags(capsys):
    code, out, err = run(
        [
            *BASE,
            "--classes",
            "10",
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
            "--weight-decay",
            "5e-4",
            "--label-smoothing",
            "0.1",
            "--norm",
            "group",
            "--residual",
            "--channels",
            "1",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    data = json.loads(out)
    facts = data["facts"]
    assert facts["optimizer"]["value"] == "sgd" and facts["lr"]["value"] == 0.1
    assert facts["has_residual"] == {"value": True, "origin": "declared", "source": "--residual"}
    assert facts["has_batchnorm"]["value"] is False  # --norm group
    assert data["setup"] == {
        "objective": "classification",
        "optimizer": "sgd",
        "lr": 0.1,
        "lr_hint": None,
    }
    plan = {r["technique"]: r for r in data["recommendations"]}
    assert "label_smoothing" not in plan and "batch_norm" not in plan
    assert plan["l2"]["search_space"]["weight_decay"]["low"] >= 5e-4
    augmentation = plan["data_augmentation"]["params"]["transforms"]
    assert "saturation" not in augmentation


def test_regression_snippet_uses_a_regression_loss(capsys):
    argv = ["recommend", "--modality", "tabular", "--arch", "mlp", "--samples", "1000"]
    argv += ["--classes", "1", "--params", "2e5", "--depth", "4", "--fit", "overfitting"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "MSELoss" in out and "CrossEntropyLoss" not in out
    assert "lr=1e-3" not in out and "# lr: the learning rate you train with" in out


def test_sparse_flag_puts_elastic_net_in_stage_one(capsys):
    argv = ["recommend", "--modality", "tabular", "--samples", "5000", "--fit", "overfitting"]
    code, out, _ = run([*argv, "--sparse", "--format", "json"], capsys)
    assert code == 0
    stage_one = [r["technique"] for r in json.loads(out)["recommendations"] if r["stage"] == 1]
    assert "elastic_net" in stage_one and "l2" not in stage_one


def test_tune_accepts_the_declared_facts_of_recommend():
    from advisor.cli._recommend import recommend
    from advisor.cli._tune import tune

    shared = {"no_flip", "samples", "classes", "pretrained", "budget", "channels", "norm"}
    shared |= {"weight_decay", "label_smoothing", "has_residual", "sparsity", "lr", "optimizer"}
    for command in (recommend, tune):
        names = {p.name for p in command.params}
        assert shared <= names, (command.name, shared - names)


def test_tune_plans_transforms_for_a_greyscale_input_and_no_flip(capsys, tmp_path, monkeypatch):
    """`advisor tune --modality image` on 1-channel 8x8 digits: no colour, no mirror."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("torch")
    import advisor.tuning
    from advisor.errors import ConfigError

    (tmp_path / "model.py").write_text(
        "import torch\n"
        "def make_model():\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))\n",
        encoding="utf-8",
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 1, 8, 8)).astype("float32")
    np.savez(tmp_path / "digits.npz", X=x, y=np.arange(100) % 10)
    seen = {}

    def fake_tune(model_fn, data, *, stack, **kwargs):
        seen["stack"] = stack
        raise ConfigError("stop here: the plan is what this test reads.")

    monkeypatch.setattr(advisor.tuning, "tune", fake_tune)
    argv = ["tune", "--model", f"{tmp_path / 'model.py'}:make_model"]
    argv += ["--data", str(tmp_path / "digits.npz"), "--task", "image", "--fit", "overfitting"]
    code, _, err = run([*argv, "--no-flip"], capsys)
    assert code == 2 and "stop here" in err
    facts = seen["stack"].facts
    assert facts["channels"] == 1 and facts["no_flip"] is True
    transforms = seen["stack"].get("data_augmentation").params["transforms"]
    assert transforms and not {"flip", "vflip", "saturation", "hue"} & set(transforms)
