"""Top-level orchestration: ``advisor.diagnose`` and ``advisor.recommend``.

``diagnose`` reads what it is given (learning curves, a checkpoint, or a directory holding
both), diagnoses the fit, inspects the model, turns everything into facts and asks the rules
engine for advice. Each part is imported only when it is needed, so a curve-only diagnosis
never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor._display import Displayable
from advisor.errors import ConfigError

__all__ = ["Diagnosis", "diagnose", "recommend"]

# The declared facts diagnose() forwards to build_facts (keyword name -> fact name).
_DECLARED = (
    "classes",
    "samples",
    "task",
    "pretrained",
    "budget",
    "gpu_hours",
    "batch_size",
    "no_flip",
)


@dataclass
class Diagnosis(Displayable):
    """Everything ``advisor.diagnose`` found about one run.

    Attributes:
        curves: the learning curves read (``None`` when none were found).
        fit: their ``FitDiagnosis`` (``None`` without curves).
        model_report: the ``ModelReport`` of the checkpoint or module (``None`` without one).
        facts: the ``Facts`` given to the rules engine.
        recommendations: the engine's ``Recommendations``.
        sources: the files read, in the order they were used.
        source: the path given (or ``None`` for in-memory input).
        notes: what the orchestration had to decide ("no curves beside the checkpoint").
    """

    curves: Any = None
    fit: Any = None
    model_report: Any = None
    facts: Any = None
    recommendations: Any = None
    sources: list[str] = field(default_factory=list)
    source: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Keys ``source``, ``sources``, ``fit``, ``model``, ``weights``, ``facts``, ``recommendations``, ``notes``."""
        mr = self.model_report
        model = getattr(mr, "model", None) if mr is not None else None
        weights = getattr(mr, "weights", None) if mr is not None else None
        return {
            "source": self.source,
            "sources": list(self.sources),
            "fit": self.fit.to_dict() if self.fit is not None else None,
            "model": _as_dict(model),
            "weights": _as_dict(weights),
            "facts": _as_dict(self.facts),
            "recommendations": _as_dict(self.recommendations),
            "notes": self.all_notes(),
        }

    def all_notes(self) -> list[str]:
        """Orchestration notes, then what the curve reader had to handle."""
        reader = list(getattr(self.curves, "notes", None) or [])
        return [*self.notes, *(f"curves: {n}" for n in reader)]

    def __rich_console__(self, console, options):
        from rich.text import Text

        for note in self.all_notes():
            yield Text(f"note: {note}", style="dim")
        for part in (self.fit, self.model_report, self.recommendations):
            if part is not None and hasattr(part, "__rich_console__"):
                yield part


def _as_dict(obj: Any) -> Any:
    if obj is None:
        return None
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


# Suffixes that only ever name weights: such a file goes to the checkpoint reader even when its
# bytes are not recognised, so a corrupt model.pt is reported as a bad checkpoint, not a bad CSV.
_CHECKPOINT_SUFFIXES = frozenset({".pt", ".pth", ".bin", ".ckpt", ".safetensors"})


def _is_checkpoint(path: Path) -> str | None:
    from advisor.inspect import sniff_checkpoint

    kind = sniff_checkpoint(path)
    if kind is None and path.is_file() and path.suffix.lower() in _CHECKPOINT_SUFFIXES:
        return "unrecognised"
    return kind


def diagnose(
    path: str | Path | None = None,
    *,
    curves: Any = None,
    model: Any = None,
    classes: int | None = None,
    samples: int | None = None,
    task: str | None = None,
    modality: str | None = None,
    objective: str | None = None,
    pretrained: bool | None = None,
    budget: str | None = None,
    gpu_hours: float | None = None,
    batch_size: int | None = None,
    no_flip: bool | None = None,
    rules_dirs: tuple[str | Path, ...] | list[str | Path] = (),
    trust: bool = False,
    spectral: bool = True,
    device: str = "auto",
    all_versions: bool = False,
    train_key: str | None = None,
    val_key: str | None = None,
    metric_key: str | None = None,
    run: int | None = None,
    recommend: bool = True,
    metric: str | None = None,
    mode: str | None = None,
    weight_decay: float | None = None,
    dropout: float | None = None,
    label_smoothing: float | None = None,
    sources: dict[str, str] | None = None,
) -> Diagnosis:
    """Diagnose a training run: fit verdict, model facts, weights, and regularization advice.

    Args:
        path: a learning-curve log, a run directory, a checkpoint, or a directory holding
            a checkpoint and its logs (a Hugging Face Trainer output).
        curves: ``Curves`` already in memory (instead of, or besides, ``path``).
        model: a ``torch.nn.Module`` to inspect (instead of a checkpoint).
        classes, samples, modality, objective, pretrained, budget, gpu_hours, batch_size,
            no_flip: declared facts (see the README); ``classes`` also sets the chance-level
            loss. ``task`` is the deprecated spelling of ``modality``/``objective``.
        rules_dirs: extra rule folders for the engine.
        sources: where each declared fact came from, shown as its source
            (``{"samples": "--samples"}``; the command line passes its flags). Default:
            "declared by the user".
        trust: allow unpickling a full checkpoint object (only for files you trust).
        spectral: run the spectral analysis of the weights.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        all_versions, train_key, val_key, metric_key, run: passed to ``load_curves``.
        recommend: ask the rules engine for advice (default True).
        metric: the validation series the stop is chosen on, by metric name (``"accuracy"``,
            ``"top1"``) or logged key; by default an accuracy-like metric for a classifier.
            The verdict is judged on the loss whenever one was logged.
        mode: ``"max"``/``"min"``: forces the direction of the ``val_key``/``metric`` series
            (inferred from its name otherwise).
        weight_decay, dropout, label_smoothing: regularization in effect, when the log's
            hyper-parameters and the checkpoint do not say (evidence for an over-regularised plateau).

    Returns:
        A ``Diagnosis``; ``to_dict()`` is the JSON of ``advisor diagnose --format json``.

    Raises:
        CurveFormatError: the curves cannot be read (or have no validation series).
        CheckpointError: the checkpoint cannot be read safely.
        ConfigError: nothing to diagnose, or an invalid declared fact.

    Example:
        >>> import advisor
        >>> d = advisor.diagnose("lightning_logs/version_0/metrics.csv")  # doctest: +SKIP
        >>> d.fit.verdict  # doctest: +SKIP
        'good_fit'
    """
    if path is None and curves is None and model is None:
        raise ConfigError("advisor.diagnose needs a path, curves= or model=; pass at least one.")
    result = Diagnosis(source=str(path) if path is not None else None)
    if metric is not None and metric_key is None:
        metric_key = metric
    from advisor._validation import resolve_vocabulary

    modality, objective = resolve_vocabulary(modality=modality, objective=objective, task=task)
    declared = {
        k: v
        for k, v in {
            "classes": classes,
            "samples": samples,
            "modality": modality,
            "objective": objective,
            "pretrained": pretrained,
            "budget": budget,
            "gpu_hours": gpu_hours,
            "batch_size": batch_size,
            "no_flip": no_flip,
            "weight_decay": weight_decay,
            "dropout_rate": dropout,
            "label_smoothing": label_smoothing,
        }.items()
        if v is not None
    }
    if declared:
        # Impossible declarations are refused before anything is read.
        from advisor.engine import validate_declared

        validate_declared(declared)
    load_kwargs: dict[str, Any] = {
        "train_key": train_key,
        "val_key": val_key,
        "metric_key": metric_key,
        "all_versions": all_versions,
        "mode": mode,
    }
    if run is not None:
        load_kwargs["run"] = run

    if path is not None:
        p = Path(path)
        if not p.exists():
            from advisor.errors import CurveFormatError

            raise CurveFormatError(f"{p}: no such file or directory; check the path.")
        kind = _is_checkpoint(p)
        if kind is not None:
            from advisor.inspect import inspect_checkpoint

            result.model_report = inspect_checkpoint(
                p, trust=trust, samples=samples, spectral=spectral, device=device
            )
            result.sources.append(str(p))
            if curves is None:
                curves = _curves_beside(result, p, load_kwargs)
        elif curves is None:
            from advisor.curves import load_curves

            curves = load_curves(p, **load_kwargs)
    if model is not None and result.model_report is None:
        from advisor.inspect import inspect_module

        result.model_report = inspect_module(
            model, samples=samples, spectral=spectral, device=device
        )

    if curves is not None:
        from advisor.curves import diagnose_fit

        result.curves = curves
        if curves.source is not None and str(curves.source) not in result.sources:
            result.sources.append(str(curves.source))
        model_dict = None
        if result.model_report is not None:
            model_dict = _as_dict(getattr(result.model_report, "model", None))
        declared_reg = {
            "weight_decay": weight_decay,
            "dropout": dropout,
            "label_smoothing": label_smoothing,
        }
        fit_classes = classes
        if fit_classes is None and model_dict and isinstance(model_dict.get("num_classes"), int):
            # The output layer's width is the chance level's K (a 1-unit head is a regressor).
            fit_classes = model_dict["num_classes"] if model_dict["num_classes"] >= 2 else None
        result.fit = diagnose_fit(
            curves,
            classes=fit_classes,
            metric=_stop_metric_name(curves, metric),
            model=model_dict,
            regularization={k: v for k, v in declared_reg.items() if v is not None},
        )

    if recommend:
        try:
            from advisor.engine import build_facts, load_rules
            from advisor.engine import recommend as engine_recommend
        except ImportError as exc:  # a partial install (or checkout) without the engine
            if exc.name not in ("advisor.engine",):
                raise
            result.notes.append(
                "the rules engine (advisor.engine) is not installed: no recommendations"
            )
            return result
        model_dict = None
        if (
            result.model_report is not None
            and getattr(result.model_report, "model", None) is not None
        ):
            model_dict = _as_dict(result.model_report.model)
        result.facts = build_facts(
            fit=result.fit, model=model_dict, declared=declared, sources=sources
        )
        result.recommendations = engine_recommend(result.facts, rules=load_rules(tuple(rules_dirs)))
    return result


def _stop_metric_name(curves: Any, metric: str | None) -> str | None:
    """The name ``diagnose_fit`` finds the ``metric`` series by (a logged key maps to its slot)."""
    if metric is None:
        return None
    for (split, name), s in curves.series.items():
        if split == "val" and s.key == metric:
            return name
    return metric


def _curves_beside(result: Diagnosis, checkpoint: Path, load_kwargs: dict[str, Any]) -> Any:
    """Curves logged next to a checkpoint (``ModelReport.curve_files``), newest first; ``None`` if none."""
    from advisor.curves import load_curves
    from advisor.errors import CurveFormatError

    files = list(getattr(result.model_report, "curve_files", None) or [])
    if not files:
        result.notes.append(f"no learning-curve log found beside {checkpoint}: fit not diagnosed")
        return None
    problems = []
    for f in files:
        try:
            curves = load_curves(f, **load_kwargs)
        except CurveFormatError as exc:
            problems.append(str(exc))
            continue
        result.notes.append(
            f"read curves from {f}"
            + (f" (newest of {len(files)} logs beside the checkpoint)" if len(files) > 1 else "")
        )
        return curves
    result.notes.append(f"logs beside {checkpoint} could not be read: {problems[0]}")
    return None


def recommend(
    facts: Any = None,
    *,
    rules_dirs: tuple[str | Path, ...] | list[str | Path] = (),
    **declared: Any,
):
    """Advice from declared facts alone (``advisor recommend``), or from ``Facts`` already built.

    Args:
        facts: ``Facts`` from ``advisor.engine.build_facts``; built from ``declared`` when ``None``.
        rules_dirs: extra rule folders.
        **declared: declared facts (``task``, ``samples``, ``params``, ``fit``, ``arch`` ...).

    Returns:
        The engine's ``Recommendations``.

    Example:
        >>> recs = advisor.recommend(task="image", samples=2000, params=11e6, fit="overfitting")  # doctest: +SKIP
        >>> recs.to_stack()["pieces"][0]["technique"]  # doctest: +SKIP
        'data_augmentation'
    """
    from advisor.engine import build_facts, load_rules
    from advisor.engine import recommend as engine_recommend

    if facts is None:
        facts = build_facts(declared={k: v for k, v in declared.items() if v is not None})
    elif declared:
        raise ConfigError(
            "advisor.recommend takes either facts= or declared facts, not both; pass one of them."
        )
    return engine_recommend(facts, rules=load_rules(tuple(rules_dirs)))
