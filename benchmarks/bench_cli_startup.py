"""Wall time of ``advisor check`` on a real metrics.csv next to ``python -c "import torch"``.

``advisor check`` and curve-only ``advisor diagnose`` import no torch (lazy imports), so a CI
gate costs a fraction of a torch import. Each command runs REPEATS times in a fresh
interpreter; the median is reported with the ratio to the torch import.
Target: advisor check well under half of ``import torch``.

Usage: python benchmarks/bench_cli_startup.py [REPEATS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "tests" / "data" / "real" / "mnist20k-v0.csv"
ADVISOR = "from advisor.cli import main; main()"
COMMANDS = {
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "advisor check metrics.csv": [sys.executable, "-c", ADVISOR, "check", str(CSV)],
    "advisor check --format json": [
        sys.executable,
        "-c",
        ADVISOR,
        "check",
        str(CSV),
        "--format",
        "json",
    ],
    "advisor diagnose --format json": [
        sys.executable,
        "-c",
        ADVISOR,
        "diagnose",
        str(CSV),
        "--format",
        "json",
    ],
    'python -c "pass"': [sys.executable, "-c", "pass"],
}


def time_command(cmd: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return times


def main(repeats: int) -> None:
    for cmd in COMMANDS.values():  # warm the OS file cache once
        subprocess.run(cmd, capture_output=True, cwd=ROOT)
    results = {
        name: statistics.median(time_command(cmd, repeats)) for name, cmd in COMMANDS.items()
    }
    torch_s = results['python -c "import torch"']
    print(f"median wall time of {repeats} runs each (fresh interpreter), {CSV.name}")
    for name, sec in results.items():
        print(f"  {name:<34} {sec * 1000:8.0f} ms   {sec / torch_s:6.2f} x import torch")
    ratio = results["advisor check metrics.csv"] / torch_s
    print(
        f"advisor check / import torch = {ratio:.2f} (target < 0.5): {'OK' if ratio < 0.5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
