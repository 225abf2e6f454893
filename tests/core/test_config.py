"""[tool.advisor] loading: nearest pyproject, shared and per-command keys, did-you-mean."""

from __future__ import annotations

import pytest

from advisor._config import find_pyproject, load_tool_config, validate_keys
from advisor.errors import ConfigError


def test_nearest_pyproject_is_found_from_a_subfolder(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor]\ntask = 'image'\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_pyproject(sub) == tmp_path / "pyproject.toml"
    table, path = load_tool_config(sub)
    assert table == {"task": "image"}
    assert path == tmp_path / "pyproject.toml"


def test_no_pyproject_gives_empty_config(tmp_path, monkeypatch):
    monkeypatch.setattr("advisor._config.find_pyproject", lambda start=None: None)
    assert load_tool_config(tmp_path) == ({}, None)


def test_invalid_toml_names_the_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.advisor\n")
    with pytest.raises(ConfigError, match="pyproject.toml: is not valid TOML"):
        load_tool_config(tmp_path)


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError, match="unknown key 'max-gapp'. Did you mean 'max-gap'"):
        validate_keys(
            {"max-gapp": 1}, ["max-gap", "fail-on"], where="pyproject.toml [tool.advisor.check]"
        )


def test_unknown_key_without_close_match_lists_allowed():
    with pytest.raises(ConfigError, match="Allowed: fail-on, max-gap"):
        validate_keys({"zzz": 1}, ["max-gap", "fail-on"], where="x")
