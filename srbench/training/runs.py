"""Run folders, re-exported from :mod:`srbench.runs` (where they live since evaluation
reads them too, and evaluation does not import training)."""

from __future__ import annotations

from srbench.runs import (
    RUNS_ROOT,
    default_run_dir,
    find_latest_model,
    refuse_modified_shipped,
    resolve_checkpoint,
    resolve_fold_checkpoint,
)

__all__ = ["RUNS_ROOT", "default_run_dir", "find_latest_model", "refuse_modified_shipped", "resolve_checkpoint",
           "resolve_fold_checkpoint"]
