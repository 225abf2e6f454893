"""Read an MLflow run's learning curves: ``load_mlflow_curves``.

The metric histories (``MlflowClient.get_metric_history``) of one run become ``Curves`` with
the same name normalisation as every other reader (``train_loss``, ``val_loss``,
``eval_accuracy`` ...), so ``advisor.curves.diagnose_fit`` judges them like any log. The same
reader serves ``advisor.load_curves`` for ``mlruns/`` folders, ``mlflow.db`` files and
``"mlflow:<tracking uri>#<run>"`` paths.

Needs the optional extra: ``pip install 'regularization-advisor[mlflow]'``.
"""

from __future__ import annotations

from advisor.curves import (
    Curves,
    Mapping,
    MlflowTarget,
    build_curves,
    mlflow_runs,
    parse_mlflow_spec,
)
from advisor.errors import CurveFormatError

__all__ = ["load_mlflow_curves"]


def load_mlflow_curves(
    tracking_uri: str | None = None,
    *,
    run_id: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    train_key: str | None = None,
    val_key: str | None = None,
    metric_key: str | None = None,
    mode: str | None = None,
) -> Curves:
    """The learning curves of one MLflow run.

    Args:
        tracking_uri: the tracking store: ``http://host:5000``, ``sqlite:///mlflow.db``,
            ``file:///path/mlruns``, or a local path (an ``mlruns`` folder or an ``mlflow.db``
            file). Default: MLflow's own (``MLFLOW_TRACKING_URI`` or ``mlflow.get_tracking_uri()``).
        run_id: the run's id (or a unique prefix of 6 characters or more).
        experiment: the experiment's name (or id) to look for ``run_name`` in.
        run_name: the run's name; the newest run of that name when several share it.
            Without ``run_id`` and ``run_name``, the newest run (of ``experiment``, if given).
        train_key, val_key, metric_key, mode: as for ``advisor.load_curves``.

    Returns:
        ``Curves`` with ``format="mlflow"``, ``run`` = ``"<run name> (<id prefix>)"`` and the
        run's params in ``hparams``.

    Raises:
        CurveFormatError: mlflow not installed, the store unreadable, no such run or
            experiment, or a run without metrics (one line naming the fix).

    Example:
        >>> curves = load_mlflow_curves("sqlite:///mlflow.db", experiment="digits", run_name="baseline")  # doctest: +SKIP
        >>> advisor.curves.diagnose_fit(curves).verdict  # doctest: +SKIP
        'overfitting'
    """
    if run_id is not None and run_name is not None:
        raise CurveFormatError("load_mlflow_curves: pass run_id or run_name, not both.")
    if tracking_uri is None:
        try:
            import mlflow
        except ImportError:
            from advisor.curves import MLFLOW_INSTALL_HINT as INSTALL_HINT

            raise CurveFormatError(
                f"load_mlflow_curves: reading MLflow runs needs the mlflow package; install it with {INSTALL_HINT}."
            ) from None
        tracking_uri = mlflow.get_tracking_uri()
    if "://" in tracking_uri or tracking_uri.startswith("databricks"):
        target = MlflowTarget(uri=tracking_uri, label=tracking_uri)
    else:
        target = parse_mlflow_spec("mlflow:" + tracking_uri)
    raws = mlflow_runs(target, experiment=experiment, run=run_id or run_name)
    return build_curves(raws[-1], mapping=Mapping(train_key, val_key, metric_key, mode) or None)
