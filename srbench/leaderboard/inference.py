"""How a leaderboard row's volumes were inferred, in one line, from the store.

A run evaluated with planned tiles stores each subject's plan
(:meth:`srbench.tiling.TilePlan.record`); a run evaluated with fixed overlapping patches
records its patch size and overlap in its run config; a method that does not tile at all
has neither. On a track whose scale differs between axes, each subject's plan also records
the path the method took (:mod:`srbench.scale_path`: the harness adapter or its native
per-axis scale), and the line states it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from srbench.results.store import ResultsStore
from srbench.scale_path import RECORD_KEY, describe_record


def _axes(values: Sequence[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "/".join(map(str, values))


def describe_inference(settings: Mapping[str, Any] | None, plans: Sequence[Mapping[str, Any]], *,
                       per_axis: bool = False) -> str:
    """One line: on a per-axis track (``per_axis``, or any plan recording a path) the path
    the method took first, then planned tiles (count, halo, receptive field, redundancy,
    exactness), fixed patches, or the method's own whole-volume inference; says when the
    receptive field could not be measured."""
    tiled = [p for p in plans if "tiles" in p]
    text = _describe(settings, tiled)
    reasons = sorted({str(p["receptive_field"]["unmeasured"]) for p in tiled if p.get("receptive_field", {}).get("unmeasured")})
    if reasons:
        text += f"; receptive field not measured ({'; '.join(reasons)}): whole volume assumed"
    paths = sorted({describe_record(p[RECORD_KEY]) for p in plans if RECORD_KEY in p})
    unrecorded = not plans or any(RECORD_KEY not in p for p in plans)
    if per_axis and unrecorded:
        paths.append("scale path not recorded (" + ("some subjects " if paths else "") + "evaluated before srbench recorded it)")
    return "; ".join([*paths, text])


def _describe(settings: Mapping[str, Any] | None, plans: Sequence[Mapping[str, Any]]) -> str:
    if plans and all(int(p["tiles"]) == 1 for p in plans):
        fields = sorted({_axes(p["receptive_field"]["radius"]) for p in plans})
        return f"the whole volume in one pass (receptive field {', '.join(fields)} LR voxels; exact)"
    if plans:
        tiles = sorted({int(p["tiles"]) for p in plans})
        count = str(tiles[0]) if len(tiles) == 1 else f"{tiles[0]}–{tiles[-1]}"
        halos = sorted({_axes(p["halo"]) for p in plans})
        fields = sorted({_axes(p["receptive_field"]["radius"]) for p in plans})
        redundancy = max(float(p["redundancy"]) for p in plans)
        exact = all(bool(p["exact"]) for p in plans)
        return (f"planned tiles: {count} per volume, halo {', '.join(halos)} LR voxels (receptive field "
                f"{', '.join(fields)}), redundancy ≤ {redundancy:.3f}, "
                + ("exact (equals whole-volume inference)" if exact else "approximate (halo below the receptive field)"))
    if settings and settings.get("patch_size") is not None:
        return (f"fixed {settings['patch_size']}³ LR patches, overlap {settings.get('overlap')}, "
                f"{settings.get('blend', 'hann')} blending")
    return "the method's own inference (no tiles planned)"


def entry_inference(store: ResultsStore, run_keys_by_entry: Mapping[str, Sequence[str]], track: str, *,
                    scale: Sequence[float] = ()) -> dict[str, str]:
    """Entry (run key or fold group) → :func:`describe_inference` of its runs on ``track``
    (whose per-axis ``scale`` says whether a path must be stated)."""
    settings = store.run_config_entries("inference")
    plans = store.inference_plans()
    per_axis = len({float(s) for s in scale}) > 1
    out = {}
    for entry, keys in run_keys_by_entry.items():
        entry_plans = [plan for (key, plan_track, _), plan in sorted(plans.items()) if key in keys and plan_track == track]
        out[entry] = describe_inference(settings.get(keys[0]) if keys else None, entry_plans, per_axis=per_axis)
    return out
