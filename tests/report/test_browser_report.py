"""Reports rendered in a real headless Chromium: no console error, no request, every image drawn.

The page itself carries no script. A probe copy gets a small script in <head> that records
errors (script errors, failed resources, console.error) and, on load, writes into the
title how many images decoded and how many network requests were made; ``--dump-dom``
prints the DOM after load. Chromium's own console log (``--enable-logging=stderr``) is
checked too, and a screenshot of the untouched report is taken and inspected.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from advisor.report import write_report
from tests.conftest import require_tool
from tests.report._builders import overfit_diagnosis, tune_result

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_PROBE = """<script>
window.__errs = [];
window.addEventListener("error", function (e) {
  window.__errs.push(e.message || ("failed to load " + (e.target && (e.target.src || e.target.href))));
}, true);
var __err = console.error;
console.error = function () { window.__errs.push(Array.prototype.join.call(arguments, " ")); __err.apply(console, arguments); };
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var req = performance.getEntriesByType("resource").length;
  document.title = "PROBE imgs=" + imgs.length + " ok=" + ok + " errors=" + window.__errs.length + " requests=" + req +
    " [" + window.__errs.join(" | ") + "]";
});
</script>"""


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=90, check=False
    )


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_tool("chromium", "chromium-browser", "google-chrome")


@pytest.mark.parametrize("which", ["diagnosis", "tune"])
def test_report_renders_without_errors(chromium, tmp_path, which):
    obj = overfit_diagnosis() if which == "diagnosis" else tune_result()
    report = write_report(obj, tmp_path / f"{which}.html")
    html = report.read_text(encoding="utf-8")
    n_images = html.count("<img ")
    assert n_images >= 1

    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
    run = _chromium(chromium, tmp_path / "profile-dom", "--dump-dom", probe.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    title = re.search(r"<title>(PROBE[^<]*)</title>", run.stdout)
    assert title, "the probe never ran: " + run.stdout[:500]
    assert f"imgs={n_images} ok={n_images} errors=0 requests=0" in title.group(1), title.group(1)
    assert _console_lines(run.stderr) == []

    shot = tmp_path / f"{which}.png"
    run = _chromium(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1200,1800",
        report.as_uri(),
    )
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    assert _console_lines(run.stderr) == []
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1200, 1800)
        # A rendered report is far from blank: many distinct colours (text, badges, plots).
        colours = image.convert("RGB").resize((300, 450)).getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 200


def test_probe_catches_broken_images_and_console_errors(chromium, tmp_path):
    # The check above must be able to fail: a broken image and a console error are seen.
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head>" + _PROBE + "<title>x</title></head><body>"
        '<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script></body></html>'
    )
    run = _chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    title = re.search(r"<title>(PROBE[^<]*)</title>", run.stdout).group(1)
    assert "imgs=1 ok=0" in title and "errors=0" not in title and "boom" in title
    assert any("boom" in line for line in _console_lines(run.stderr))
