"""What each leaderboard row was trained with: its budget and weights, stated beside the row.

Rows compare trained presets, not abstract methods: a `cpu` preset's iterations, batch,
patch size, parameter count, training time and training data bound what its method can show. The board states them per
row from the run's stored training configuration (no plugin needed), so a reader sees
when two rows had different budgets, and which data the weights were trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from srbench.io.paths import portable_path
from srbench.results.store import ResultsStore


def describe_budget(training: Mapping[str, Any] | None, *, checkpoint: str | None, folds: int = 0,
                    budget: Mapping[str, Any] | None = None) -> str:
    """One line: preset, iterations × batch, HR patch edge, seed, parameter count, training
    time, training track, the data the preset was tuned on (when recorded), weights file.

    Args:
        training: the run config's ``training`` entry (the checkpoint's stored configuration).
        checkpoint: the weights file as recorded, made portable (relative to the working
            directory, or redacted: never a folder of the machine).
        folds: the number of fold models of a cross-validation row (0: a single model).
        budget: the run config's ``budget`` entry (:func:`srbench.io.checkpoint.checkpoint_budget`;
            for a cross-validation row ``training_seconds`` summed over its folds), None when
            the row was evaluated before budgets were recorded.
    """
    if not training:
        return "not trained (no weights)" if checkpoint is None else f"weights {checkpoint} (no training configuration recorded)"
    facts = []
    budget = budget or {}
    if "preset" in training:
        facts.append(f"preset {training['preset']}")
    if "iterations" in training:
        batch = f" × batch {training['batch_size']}" if "batch_size" in training else ""
        facts.append(f"{training['iterations']} iterations{batch}")
    if "patch_size" in training:
        facts.append(f"HR patches {training['patch_size']}³")
    if "seed" in training:
        facts.append(f"seed {training['seed']}")
    if isinstance(budget.get("parameters"), int) and not isinstance(budget.get("parameters"), bool):
        facts.append(f"{budget['parameters']:,} parameters")
    seconds = budget.get("training_seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        facts.append(f"trained for {seconds:,.0f} s wall time{' (all folds)' if folds else ''}, as its run manifest records")
    if "track" in training:
        facts.append(f"trained on track {training['track']}" + (f" ({folds} fold models, each scoring only the subjects its fold held out)" if folds else ""))
    tuned = training.get("tuned_on")
    if isinstance(tuned, str) and tuned.strip() and tuned.isprintable():
        facts.append(f"preset values chosen on: {tuned.strip()}")
    if checkpoint:
        facts.append(f"weights {checkpoint}" + (" and its sibling folds" if folds else ""))
    return "; ".join(facts)


def entry_budgets(store: ResultsStore, run_keys_by_entry: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Entry (run key or fold group) → :func:`describe_budget` of its (first) run."""
    training = store.run_config_entries("training")
    budgets = store.run_config_entries("budget")
    runs = store.runs()
    checkpoints = dict(zip(runs["run_key"], runs["checkpoint_path"], strict=True))
    out = {}
    for entry, keys in run_keys_by_entry.items():
        first = keys[0] if keys else entry
        path = checkpoints.get(first)
        recorded = None if not isinstance(path, str) or not path else portable_path(path)
        out[entry] = describe_budget(training.get(first), checkpoint=recorded, folds=len(keys) if len(keys) > 1 else 0,
                                     budget=_combined([budgets.get(k) for k in (keys or [entry])]))
    return out


def _combined(budgets: Sequence[Any]) -> dict[str, Any]:
    """One row's budget from its runs' (one per fold model): the first run's parameter count,
    and the training time summed over the runs when every run recorded one."""
    if not budgets or not all(isinstance(b, Mapping) for b in budgets):
        return {}
    seconds = [b.get("training_seconds") for b in budgets]
    known = all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in seconds)
    return {"parameters": budgets[0].get("parameters"), "training_seconds": sum(seconds) if known else None}
