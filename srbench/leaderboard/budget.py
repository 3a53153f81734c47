"""What each leaderboard row was trained with: its budget and weights, stated beside the row.

Rows compare trained presets, not abstract methods: a `cpu` preset's iterations, batch,
patch size and training data bound what its method can show. The board states them per
row from the run's stored training configuration (no plugin needed), so a reader sees
when two rows had different budgets, and which data the weights were trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from srbench.io.paths import portable_path
from srbench.results.store import ResultsStore


def describe_budget(training: Mapping[str, Any] | None, *, checkpoint: str | None, folds: int = 0) -> str:
    """One line: preset, iterations × batch, HR patch edge, seed, training track, weights file.

    Args:
        training: the run config's ``training`` entry (the checkpoint's stored configuration).
        checkpoint: the weights file as recorded, made portable (relative to the working
            directory, or redacted: never a folder of the machine).
        folds: the number of fold models of a cross-validation row (0: a single model).
    """
    if not training:
        return "not trained (no weights)" if checkpoint is None else f"weights {checkpoint} (no training configuration recorded)"
    facts = []
    if "preset" in training:
        facts.append(f"preset {training['preset']}")
    if "iterations" in training:
        batch = f" × batch {training['batch_size']}" if "batch_size" in training else ""
        facts.append(f"{training['iterations']} iterations{batch}")
    if "patch_size" in training:
        facts.append(f"HR patches {training['patch_size']}³")
    if "seed" in training:
        facts.append(f"seed {training['seed']}")
    if "track" in training:
        facts.append(f"trained on track {training['track']}" + (f" ({folds} fold models, one per held-out subject)" if folds else ""))
    if checkpoint:
        facts.append(f"weights {checkpoint}" + (" and its sibling folds" if folds else ""))
    return "; ".join(facts)


def entry_budgets(store: ResultsStore, run_keys_by_entry: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Entry (run key or fold group) → :func:`describe_budget` of its (first) run."""
    training = store.run_config_entries("training")
    runs = store.runs()
    checkpoints = dict(zip(runs["run_key"], runs["checkpoint_path"], strict=True))
    out = {}
    for entry, keys in run_keys_by_entry.items():
        first = keys[0] if keys else entry
        path = checkpoints.get(first)
        recorded = None if not isinstance(path, str) or not path else portable_path(path)
        out[entry] = describe_budget(training.get(first), checkpoint=recorded, folds=len(keys) if len(keys) > 1 else 0)
    return out
