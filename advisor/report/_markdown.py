"""Markdown rendering of report sections, for PR comments; plots are PNG files beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.report._figures import figure_to_png
from advisor.report._sections import build_sections, title_of

__all__ = ["render_markdown"]


def _cell(text: Any) -> str:
    # A pipe or a newline would end the table cell early.
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(obj: Any, path: Path, *, title: str | None = None) -> tuple[str, list[Path]]:
    """The Markdown text of ``obj``'s report, and the PNG files written beside ``path``.

    Images are named ``<stem>-<plot>.png`` in the same folder and linked relatively, so
    the report and its images can be attached or committed together.
    """
    lines = [f"# {title or title_of(obj)}", ""]
    images: list[Path] = []
    for section in build_sections(obj, plots=True):
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            kind, data = block.kind, block.data
            if kind == "verdict":
                verdict = str(data.get("verdict") or "unknown")
                text = verdict.upper() if data.get("status") else verdict.replace("_", " ")
                confidence = data.get("confidence")
                extra = (
                    f" (confidence {confidence:.2f})" if isinstance(confidence, int | float) else ""
                )
                lines += [f"**Verdict: {text}**{extra}", ""]
            elif kind == "kv" and data:
                lines += [
                    "| | |",
                    "|---|---|",
                    *(f"| **{_cell(k)}** | {_cell(v)} |" for k, v in data),
                    "",
                ]
            elif kind == "table":
                lines.append("| " + " | ".join(_cell(h) for h in data["headers"]) + " |")
                lines.append("|" + "---|" * len(data["headers"]))
                lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in data["rows"]]
                lines.append("")
            elif kind == "text":
                lines += [str(data), ""]
            elif kind == "list":
                lines += [*(f"- {item}" for item in data), ""]
            elif kind == "code":
                lines += [f"```{data['language']}", data["code"].rstrip("\n"), "```", ""]
            elif kind == "figure":
                name = data["name"]
                taken = {p.name for p in images}
                suffix = 2
                while f"{path.stem}-{name}.png" in taken:  # two plots of one kind: keep both
                    name, suffix = f"{data['name']}-{suffix}", suffix + 1
                image = path.with_name(f"{path.stem}-{name}.png")
                image.write_bytes(figure_to_png(data["figure"]))
                images.append(image)
                lines += [f"![{data['alt']}]({image.name})", ""]
    return "\n".join(lines).rstrip("\n") + "\n", images
