"""HTML rendering of report sections: a Jupyter fragment and a self-contained report file.

Everything is inline (CSS in a ``<style>`` element, plots as base64 PNG ``data:`` URIs, no
script, no font or stylesheet links), so the file opens offline, attaches to a PR or an
e-mail as is, and a browser makes no network request for it.
"""

from __future__ import annotations

import html
from typing import Any

from advisor.report._figures import figure_to_base64
from advisor.report._sections import Section, build_sections, title_of

__all__ = ["render_document", "render_fragment"]

# Verdict -> badge colour (green good, amber needs attention, red broken).
_BADGE = {
    "good_fit": "#1a7f37",
    "pass": "#1a7f37",
    "overfitting": "#b35900",
    "underfitting": "#b35900",
    "not_converged": "#6f42c1",
    "warn": "#b35900",
    "diverging": "#cf222e",
    "fail": "#cf222e",
    "error": "#cf222e",
}

_CSS = """
.advisor-report { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px;
  color: #1f2328; line-height: 1.45; max-width: 1100px; }
.advisor-report h2 { font-size: 1.35em; margin: 0.4em 0 0.3em; }
.advisor-report h3 { font-size: 1.1em; margin: 1.1em 0 0.4em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
.advisor-report table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.92em; }
.advisor-report th, .advisor-report td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
.advisor-report th { background: #f6f8fa; }
.advisor-report table.kv th { font-weight: 600; white-space: nowrap; }
.advisor-report .badge { display: inline-block; color: #fff; border-radius: 1em; padding: 0.15em 0.8em; font-weight: 600; }
.advisor-report .muted { color: #656d76; }
.advisor-report pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.7em; overflow-x: auto; font-size: 0.88em; }
.advisor-report img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.advisor-report ul { margin: 0.3em 0; padding-left: 1.4em; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _block_html(block: Any) -> str:
    kind, data = block.kind, block.data
    if kind == "verdict":
        verdict = str(data.get("verdict") or "unknown")
        color = _BADGE.get(verdict.lower(), "#57606a")
        text = verdict.upper() if data.get("status") else verdict.replace("_", " ")
        out = f'<p><span class="badge verdict" style="background:{color}">{_e(text)}</span>'
        confidence = data.get("confidence")
        if isinstance(confidence, int | float):
            out += f' <span class="muted">confidence {confidence:.2f}</span>'
        return out + "</p>"
    if kind == "kv":
        if not data:
            return ""
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in data)
        return f'<table class="kv">{rows}</table>'
    if kind == "table":
        head = "".join(f"<th>{_e(h)}</th>" for h in data["headers"])
        body = "".join(
            "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in data["rows"]
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if kind == "text":
        return f"<p>{_e(data)}</p>"
    if kind == "list":
        return "<ul>" + "".join(f"<li>{_e(item)}</li>" for item in data) + "</ul>"
    if kind == "code":
        return f'<pre><code class="language-{_e(data["language"])}">{_e(data["code"])}</code></pre>'
    if kind == "figure":
        uri = figure_to_base64(data["figure"])
        return f'<img src="{uri}" alt="{_e(data["alt"])}" data-plot="{_e(data["name"])}">'
    raise ValueError(
        f"unknown block kind {kind!r}"
    )  # pragma: no cover - builders only emit the kinds above


def _sections_html(sections: list[Section]) -> str:
    parts = []
    for section in sections:
        parts.append(f"<h3>{_e(section.title)}</h3>")
        parts.extend(_block_html(block) for block in section.blocks)
    return "\n".join(p for p in parts if p)


def render_fragment(obj: Any, *, plots: bool = True) -> str:
    """An HTML fragment for Jupyter (``_repr_html_``): scoped style, title, sections."""
    body = _sections_html(build_sections(obj, plots=plots))
    return f'<div class="advisor-report"><style>{_CSS}</style><h2>{_e(title_of(obj))}</h2>\n{body}</div>'


def render_document(obj: Any, *, title: str | None = None) -> str:
    """A complete, self-contained HTML document describing ``obj``."""
    from datetime import UTC, datetime

    from advisor._version import __version__

    heading = title or title_of(obj)
    body = _sections_html(build_sections(obj, plots=True))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(heading)}</title><style>body {{ margin: 2em auto; padding: 0 1em; max-width: 1100px; }}"
        f'{_CSS}</style></head>\n<body><main class="advisor-report"><h2>{_e(heading)}</h2>\n{body}\n'
        f'<p class="muted">Generated by advisor {_e(__version__)} on {stamp}.</p></main></body></html>\n'
    )
