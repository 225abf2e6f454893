"""Benchmark: cost of ``advisor`` inspection (no spectral pass) next to a bare load of the file.

Writes a ~100 MB state_dict (``torch.save``) and the same tensors as ``.safetensors``, then, each
in a fresh subprocess (so peak memory is that of one operation): the baseline
``torch.load(weights_only=True)`` / ``safetensors.torch.load_file``, and
``advisor.inspect.inspect_checkpoint(path, spectral=False)`` (what ``advisor diagnose`` runs on a
checkpoint before the rules engine; the curve search beside the file included). Imports of
torch, safetensors and advisor are excluded from every timing. ``safetensors.load_file`` maps the
file and reads pages lazily, so its row is also given with every tensor summed once (all bytes
read), the cost a consumer of the tensors pays. Printed: wall time of the call (imports excluded), peak RSS
growth during it, their ratios to the baseline and to the file size. Targets: inspection adds
under 50% to the load time; peak memory under 1.5x the file size.

Run: ``.venv/bin/python benchmarks/bench_checkpoint_load.py [--mb 100] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
path, mode = sys.argv[1], sys.argv[2]
import torch, safetensors.torch
import advisor.inspect._inspect, advisor.curves._load  # imports excluded from the timing
def rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
before = rss_kb()
start = time.perf_counter()
if mode == "torch.load":
    obj = torch.load(path, weights_only=True, map_location="cpu")
elif mode == "safetensors.load_file":
    obj = safetensors.torch.load_file(path)
elif mode == "load_file + read all":
    obj = safetensors.torch.load_file(path)
    total = sum(float(t.sum()) for t in obj.values())
else:
    obj = advisor.inspect._inspect.inspect_checkpoint(path, spectral=False, device="cpu")
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_growth_mb": (rss_kb() - before) / 1024}))
"""


def _run(path: Path, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), mode], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch
    from safetensors.torch import save_file
    from torch import nn

    # A wide MLP-like stack of float32 matrices adding up to the requested size.
    width = 1024
    layers = max(1, int(args.mb * 1024 * 1024 / 4 / (width * width + width)))
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)], nn.Linear(width, 10))
    state = model.state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        pt, st = Path(tmp) / "model.pt", Path(tmp) / "model.safetensors"
        torch.save(state, pt)
        save_file(state, st)
        del model, state
        print(f"python={sys.version.split()[0]} torch={torch.__version__}")
        print(
            f"{'file':22} {'MB':>6} {'operation':26} {'seconds':>8} {'x load':>7} {'peak MB':>8} {'x file':>7}"
        )
        for path, baseline in ((pt, "torch.load"), (st, "safetensors.load_file")):
            size_mb = path.stat().st_size / 2**20
            rows = {}
            modes = (baseline, "load_file + read all") if baseline != "torch.load" else (baseline,)
            for mode in (*modes, "advisor inspect"):
                runs = [_run(path, mode) for _ in range(args.repeat)]
                rows[mode] = (
                    statistics.median(r["seconds"] for r in runs),
                    max(r["peak_growth_mb"] for r in runs),
                )
            base_s = rows[baseline][0]
            for mode, (secs, peak) in rows.items():
                print(
                    f"{path.name:22} {size_mb:>6.0f} {mode:26} {secs:>8.3f} {secs / base_s:>6.2f}x {peak:>8.1f} {peak / size_mb:>6.2f}x"
                )


if __name__ == "__main__":
    main()
