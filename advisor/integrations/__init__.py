"""Integrations with other tools: MLflow runs and the Hugging Face ``Trainer``.

* ``advisor.integrations.mlflow``: ``load_mlflow_curves(tracking_uri, run_id=... | experiment=...,
  run_name=...)`` reads a run's metric histories through ``MlflowClient`` (extra ``mlflow``).
* ``advisor.integrations.transformers``: ``AdvisorCallback``, a ``transformers.TrainerCallback``
  that records the Trainer's logs and warns live on overfitting or divergence (extra
  ``transformers``).

Each submodule imports its library only when used; importing this package imports neither.
"""

from __future__ import annotations

__all__: list[str] = []
