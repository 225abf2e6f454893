"""Reports: matplotlib plots, Jupyter HTML, self-contained HTML/Markdown files, the Recorder.

Every advisor result renders itself through this package (see ``advisor._display``):
``to_html_fragment(obj)`` is its ``_repr_html_``, ``plot(obj)`` its ``.plot()``, and
``write_report(obj, path)`` writes the file behind ``advisor diagnose --format html`` and
``advisor tune --report``. Dispatch is on the class name, so rendering a curve diagnosis
never imports torch or optuna. Plots use ``matplotlib.figure.Figure`` directly: the
user's pyplot backend is never changed, and no display is needed.

Example:
    >>> import advisor
    >>> diagnosis = advisor.diagnose("lightning_logs/version_0/metrics.csv")  # doctest: +SKIP
    >>> advisor.report.write_report(diagnosis, "report.html")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.errors import ConfigError
from advisor.report._recorder import Recorder
from advisor.report._sections import kind_of, stack_code

__all__ = [
    "AdvisorCallback",
    "Recorder",
    "plot",
    "plot_curves",
    "plot_recommendations",
    "plot_tuning",
    "plot_weights",
    "render_fit",
    "stack_code",
    "to_html_fragment",
    "write_report",
]

_FORMATS = ("html", "markdown")


def to_html_fragment(obj: Any) -> str:
    """The HTML a notebook shows for ``obj``: verdict, tables and inline plots.

    Example:
        >>> from IPython.display import HTML  # doctest: +SKIP
        >>> HTML(to_html_fragment(diagnosis))  # doctest: +SKIP
    """
    from advisor.report._html import render_fragment

    return render_fragment(obj)


def render_fit(fit: Any, *, width: int = 60) -> Any:
    """Rich renderables of a fit diagnosis for the terminal (``FitDiagnosis.__rich_console__``)."""
    from advisor.report._fit_view import render_fit as impl

    return impl(fit, width=width)


def plot(obj: Any, **kwargs: Any) -> Any:
    """Draw any advisor result; returns a ``matplotlib.figure.Figure``.

    Curves and diagnoses give the annotated learning curves (``kind="weights"`` on a
    diagnosis with weight statistics gives the weight plot instead), model reports the
    weight diagnostics, tune results the study, recommendations their scores.

    Example:
        >>> fig = advisor.diagnose("metrics.csv").plot()  # doctest: +SKIP
        >>> fig.savefig("curves.png")  # doctest: +SKIP
    """
    kind = kind_of(obj)
    if kind == "curves":
        return plot_curves(obj, kwargs.pop("fit", None), **kwargs)
    if kind == "fit":
        return plot_curves(kwargs.pop("curves", None), obj, **kwargs)
    if kind == "recorder":
        fit = obj.diagnose() if obj.n_epochs >= 2 else None
        return plot_curves(obj.to_curves(), fit, **kwargs)
    if kind == "check":
        if obj.fit is None:
            raise ConfigError(
                "plot: this check report has no fit diagnosis to draw (the curves could not be read)."
            )
        return plot_curves(None, obj.fit, **kwargs)
    if kind == "diagnosis":
        which = kwargs.pop("kind", None)
        has_curves = (
            getattr(obj, "fit", None) is not None or getattr(obj, "curves", None) is not None
        )
        if which == "weights" or (which is None and not has_curves):
            if getattr(obj, "model_report", None) is None:
                raise ConfigError("plot: this diagnosis has neither curves nor weights to draw.")
            return plot_weights(obj.model_report, **kwargs)
        if which not in (None, "curves"):
            raise ConfigError(f"plot: kind must be 'curves' or 'weights', got {which!r}.")
        if not has_curves:
            raise ConfigError("plot: this diagnosis has no learning curves; pass kind='weights'.")
        return plot_curves(getattr(obj, "curves", None), getattr(obj, "fit", None), **kwargs)
    if kind in ("model", "weights"):
        return plot_weights(obj, **kwargs)
    if kind == "tune":
        return plot_tuning(obj, **kwargs)
    return plot_recommendations(obj, **kwargs)


def plot_curves(curves: Any = None, fit: Any = None, **kwargs: Any) -> Any:
    """Learning curves annotated with the verdict (see ``advisor.report._plot_curves``)."""
    from advisor.report._plot_curves import plot_curves as impl

    return impl(curves, fit, **kwargs)


def plot_weights(obj: Any, **kwargs: Any) -> Any:
    """Per-layer alpha with the 2-6 band and the worst layer's spectrum."""
    from advisor.report._plot_weights import plot_weights as impl

    return impl(obj, **kwargs)


def plot_tuning(result: Any, **kwargs: Any) -> Any:
    """Optimisation history, baseline, importances and per-fold CV scores of a study."""
    from advisor.report._plot_tuning import plot_tuning as impl

    return impl(result, **kwargs)


def plot_recommendations(recs: Any, **kwargs: Any) -> Any:
    """Scores of the recommended techniques, by stage."""
    from advisor.report._plot_other import plot_recommendations as impl

    return impl(recs, **kwargs)


def write_report(
    obj: Any,
    path: str | Path,
    *,
    format: str = "html",
    title: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a report file for ``obj``.

    Args:
        obj: any advisor result (``Diagnosis``, ``TuneResult``, ``CheckReport``, ``Curves`` ...).
        path: the file to write; its folder is created when missing.
        format: ``"html"`` (one self-contained file: inline CSS and base64 PNG images, no
            script, no network) or ``"markdown"`` (for PR comments; images are written as
            ``<stem>-<plot>.png`` beside it and linked relatively).
        title: the report's title (default: what it is and its source).
        overwrite: replace an existing file (the CLI's ``--output`` does).

    Returns:
        The path written.

    Example:
        >>> write_report(advisor.diagnose("metrics.csv"), "report.html")  # doctest: +SKIP
        PosixPath('report.html')
    """
    if format not in _FORMATS:
        raise ConfigError(
            f"write_report: format must be one of {', '.join(_FORMATS)}, got {format!r}."
        )
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"write_report: {path} is a directory; give a file name such as {path / 'report.html'}."
        )
    if path.exists() and not overwrite:
        raise ConfigError(
            f"write_report: {path} exists; pass overwrite=True or choose another path."
        )
    kind_of(obj)  # fail on an unsupported object before creating anything
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "html":
        from advisor.report._html import render_document

        text = render_document(obj, title=title)
    else:
        from advisor.report._markdown import render_markdown

        text, _images = render_markdown(obj, path, title=title)
    path.write_text(text, encoding="utf-8")
    return path


def __getattr__(name: str) -> Any:
    if name == "AdvisorCallback":  # imports lightning: only on demand
        from advisor.report._lightning import AdvisorCallback

        return AdvisorCallback
    raise AttributeError(f"module 'advisor.report' has no attribute {name!r}")
