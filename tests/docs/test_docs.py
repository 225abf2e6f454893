"""The README and docs/ run as written, and the documentation site builds.

Each page's examples run with Sybil, in order, in a temporary folder holding a copy of
``examples/`` (the paths the pages use, from the repository root):

- ``python`` blocks run in one namespace per page;
- ``console`` blocks run their ``$ command`` lines with bash; a command must exit 0 unless the
  next line is ``$ echo $?`` with the expected code under it, and every output line shown under
  a command must appear in what it printed (``...`` in a line stands for any text);
- a ``toml`` block whose first line is ``# PATH`` is written to PATH; every toml block must parse.

``<!-- skip: next "reason" -->`` before a block skips it (a GPU, a server, a fragment an example
already runs). docs/development.md ("Documentation") describes the conventions for writers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import unittest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
COMMAND_TIMEOUT = 300  # seconds for one console command (the tune examples take ~30 s)

pytestmark = pytest.mark.docs


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        message = f"{module} is not installed (the dev extra installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


# ----------------------------------------------------------------------------- console blocks


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """``[(command, expected output lines)]`` of a console block (``\\`` continues a command)."""
    steps: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            steps.append((command, []))
        elif steps and line.strip():
            steps[-1][1].append(line.strip())
        i += 1
    return steps


def _shown(expected: str, output: str) -> bool:
    """Whether an output line shown on the page appears in the real output."""
    if expected in ("...", "…"):
        return True
    parts = [p for p in expected.split("...") if p.strip()]
    flat = " ".join(output.split())
    for line in [*output.splitlines(), flat]:
        line = " ".join(line.split())
        at = 0
        for part in parts:
            found = line.find(" ".join(part.split()), at)
            if found < 0:
                break
            at = found + len(part)
        else:
            return True
    return False


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "COLUMNS": "120",  # wide enough that table cells a page quotes are not wrapped
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    }


def run_console(example) -> str | None:
    """Sybil evaluator for ``console`` blocks; returns a failure message or None."""
    steps = _commands(example.parsed)
    last: subprocess.CompletedProcess | None = None
    for command, expected in steps:
        if command.strip() == "echo $?":
            code = int(expected[0]) if expected else 0
            if last is None or last.returncode != code:
                got = None if last is None else last.returncode
                return f"line {example.line}: expected exit code {code}, got {got}"
            last = None
            continue
        if last is not None and last.returncode != 0:
            return _failed(example, last)
        last = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            env=_env(),
            check=False,
        )
        output = last.stdout + last.stderr
        missing = [line for line in expected if not _shown(line, output)]
        if missing:
            return (
                f"line {example.line}: `{command}` did not print {missing[0]!r}; it printed:\n"
                f"{output[-3000:]}"
            )
    if last is not None and last.returncode != 0:
        return _failed(example, last)
    return None


def _failed(example, run: subprocess.CompletedProcess) -> str:
    return (
        f"line {example.line}: `{run.args[-1]}` exited {run.returncode} "
        f"(show the code with `$ echo $?` if that is meant):\n{(run.stdout + run.stderr)[-3000:]}"
    )


def check_toml(example) -> str | None:
    """Sybil evaluator for ``toml`` blocks: parse; write it when its first line names a file."""
    text = example.parsed
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return f"line {example.line}: the toml block does not parse: {err}"
    first = text.splitlines()[0].strip() if text.strip() else ""
    match = re.fullmatch(r"#\s*([\w./-]+\.toml)", first)
    if match:
        path = Path(match.group(1))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return None


def _sybil():
    _need("sybil")
    from sybil import Sybil
    from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

    return Sybil(
        parsers=[
            PythonCodeBlockParser(),
            CodeBlockParser("console", run_console),
            CodeBlockParser("toml", check_toml),
            SkipParser(),
        ]
    )


# ----------------------------------------------------------------------------- the tests


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_page_runs_as_written(page: Path, tmp_path: Path, monkeypatch):
    shutil.copytree(
        ROOT / "examples",
        tmp_path / "examples",
        ignore=shutil.ignore_patterns(".advisor", "__pycache__", "*.pyc"),
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    examples = list(_sybil().parse(page))
    ran = 0
    for example in examples:
        try:
            example.evaluate()
        except unittest.SkipTest:
            continue
        except Exception as err:  # name the page and line, then the error
            raise AssertionError(f"{page.name}, line {example.line}: {err}") from err
        ran += 1
    assert ran or not examples, f"{page.name}: every example was skipped"


def test_every_page_is_in_the_site_navigation():
    yaml = _need("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = {next(iter(item.values())) for item in config["nav"]}
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert listed == pages


def test_site_builds_strictly(tmp_path: Path):
    """``mkdocs build --strict`` into a temporary folder: nothing is written into the checkout."""
    _need("mkdocs")
    _need("material")
    before = sorted(p.name for p in ROOT.iterdir())
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert "Staged search" in (tmp_path / "site" / "tuning" / "index.html").read_text()
    assert sorted(p.name for p in ROOT.iterdir()) == before
    print(f"mkdocs build --strict: {time.perf_counter() - started:.1f} s")


def test_readme_is_a_front_page_and_keeps_its_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    block = readme[readme.index("```bash") : readme.index("```", readme.index("```bash") + 7)]
    setup_run, setup_test = (
        line for line in block.splitlines() if line.startswith("python3 -m venv")
    )
    assert setup_run.endswith(".venv/bin/advisor diagnose examples/runs/mnist20k")
    assert setup_test.endswith(".venv/bin/python -m pytest -n 2")
    # .ci/run runs the README's test command exactly.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == setup_test
    assert (ROOT / "examples" / "runs" / "mnist20k").is_dir()


def test_rule_counts_in_the_docs_are_the_real_count():
    """A number of rules written in prose must be today's (better: let `advisor rules list` say)."""
    from advisor.engine import load_rules

    count = len(load_rules().rules)
    for page in PAGES:
        prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # outputs may count others
        for number in re.findall(r"\b(\d+) (?:built-in )?rules\b", prose):
            assert int(number) == count, f"{page.name} says {number} rules; there are {count}"
