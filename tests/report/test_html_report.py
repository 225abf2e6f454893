"""Jupyter HTML, self-contained HTML files and Markdown reports for every result type."""

from __future__ import annotations

import base64
import re

import pytest

import advisor
from advisor.curves import load_curves
from advisor.errors import ConfigError
from advisor.report import Recorder, to_html_fragment, write_report
from tests.report._builders import (
    ROOT_RUN,
    overfit_curves,
    overfit_diagnosis,
    overfit_fit,
    tune_result,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _images(html: str) -> list[bytes]:
    return [
        base64.b64decode(m)
        for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    ]


def _assert_self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    # Nothing a browser would fetch: no http(s) URL, no protocol-relative or file link.
    assert not re.search(r'(src|href)\s*=\s*"(?!data:)', html)
    assert "http://" not in html and "https://" not in html


@pytest.fixture(scope="module")
def diagnosis():
    return overfit_diagnosis()


def test_diagnosis_repr_html_has_verdict_plan_snippet_and_plot(diagnosis):
    html = diagnosis._repr_html_()
    assert 'class="badge verdict"' in html and ">overfitting<" in html
    for heading in ("Verdict", "Facts", "Staged plan"):
        assert f"<h3>{heading}</h3>" in html
    techniques = {r["technique"] for r in diagnosis.recommendations.to_dict()}
    assert techniques and all(t in html for t in techniques)
    assert "<pre><code" in html  # the snippet applying the stack
    images = _images(html)
    assert len(images) == 1 and images[0].startswith(PNG)
    _assert_self_contained(html)


def test_fragment_escapes_text_from_files():
    curves = overfit_curves()
    curves.notes.append('<img src=x onerror="alert(1)"> & more')
    html = to_html_fragment(curves)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; more" in html


@pytest.mark.slow
def test_fit_check_curves_recorder_and_tune_all_render():
    fit = overfit_fit()
    check = advisor.check(overfit_curves())
    rec = Recorder()
    for epoch in range(6):
        rec.log(epoch, train_loss=1 / (epoch + 1), val_loss=0.8 / (epoch + 1) + 0.1)
    for obj, must in (
        (fit, ">overfitting<"),
        (check, ">FAIL<"),
        (overfit_curves(), "val_acc"),
        (rec, "Live verdict"),
        (tune_result(), "Best parameters"),
    ):
        html = obj._repr_html_()
        assert must in html, type(obj).__name__
        assert _images(html), type(obj).__name__
        _assert_self_contained(html)


def test_tune_fragment_shows_gain_over_baseline_and_snippet():
    html = tune_result()._repr_html_()
    assert "gain over baseline" in html and "0.0165" in html
    assert "dropout.p" in html and "<pre><code" in html


def test_write_html_document(tmp_path, diagnosis):
    path = write_report(diagnosis, tmp_path / "out" / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "<title>advisor diagnosis" in text
    _assert_self_contained(text)
    assert all(image.startswith(PNG) for image in _images(text))


def test_write_markdown_saves_images_beside_it(tmp_path, diagnosis):
    path = write_report(diagnosis, tmp_path / "pr.md", format="markdown")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# advisor diagnosis")
    assert "**Verdict: overfitting**" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["pr-curves.png"]
    assert (tmp_path / "pr-curves.png").read_bytes().startswith(PNG)
    assert "| stage | technique |" in text and "```python" in text


def test_markdown_table_cells_escape_pipes(tmp_path):
    curves = load_curves(ROOT_RUN)
    curves.notes.append("a | b")
    text = write_report(curves, tmp_path / "c.md", format="markdown").read_text()
    assert "a | b" in text  # a list item, not a cell
    fit = overfit_fit()
    fit.evidence.append("x | y")
    assert "- x | y" in write_report(fit, tmp_path / "f.md", format="markdown").read_text()


def test_write_report_rejects_bad_arguments(tmp_path, diagnosis):
    with pytest.raises(ConfigError, match="format must be one of html, markdown, got 'pdf'"):
        write_report(diagnosis, tmp_path / "r.pdf", format="pdf")
    with pytest.raises(ConfigError, match="is a directory"):
        write_report(diagnosis, tmp_path)
    with pytest.raises(ConfigError, match="cannot render a list"):
        write_report([1, 2], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
    (tmp_path / "keep.html").write_text("old")
    with pytest.raises(ConfigError, match="exists; pass overwrite=True"):
        write_report(diagnosis, tmp_path / "keep.html", overwrite=False)
    assert (tmp_path / "keep.html").read_text() == "old"


def test_recommendations_render_staged_plan_and_advice_only_has_no_snippet():
    recs = advisor.recommend(task="image", samples=2000, classes=10, fit="overfitting")
    html = recs._repr_html_()
    assert "<h3>Staged plan</h3>" in html and "<pre><code" in html and _images(html)
    advice_only = advisor.recommend(task="image", samples=2000, classes=10, fit="underfitting")
    assert advice_only.to_stack()["pieces"] == []
    assert "<pre><code" not in advice_only._repr_html_()


@pytest.mark.slow
def test_model_report_renders_weights_table_and_plot():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    report = advisor.inspect_module(model)
    html = report._repr_html_()
    assert "<h3>Model</h3>" in html and "<h3>Weights</h3>" in html
    assert "<th>alpha</th>" in html and _images(html)
    diagnosis = advisor.diagnose(model=model, task="tabular")
    fig = diagnosis.plot(kind="weights", module=model)
    assert len(fig.axes) == 2  # alpha panel and the worst layer's spectrum
    with pytest.raises(ConfigError, match="kind must be 'curves' or 'weights'"):
        diagnosis.plot(kind="spectrum")


def test_markdown_keeps_two_plots_of_one_kind(tmp_path, monkeypatch):
    from advisor.report import _markdown
    from advisor.report._plot_curves import plot_curves
    from advisor.report._sections import Block, Section

    fig = plot_curves(overfit_curves())
    sections = [
        Section(title, [Block("figure", {"name": "curves", "figure": fig, "alt": title})])
        for title in ("first", "second")
    ]
    monkeypatch.setattr(_markdown, "build_sections", lambda obj, plots: sections)
    text, images = _markdown.render_markdown(overfit_curves(), tmp_path / "r.md")
    assert [p.name for p in images] == ["r-curves.png", "r-curves-2.png"]
    assert "(r-curves-2.png)" in text
