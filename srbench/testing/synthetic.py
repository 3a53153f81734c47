"""Synthetic volumes for the conformance kit and plugin tests (:mod:`srbench.synthetic`).

The generators live in :mod:`srbench.synthetic`, where the evaluation's time estimate
uses them too; this module keeps the names plugin tests import."""

from __future__ import annotations

from srbench.synthetic import lr_volume, oblique_affine, smooth_volume, unit_volume

__all__ = ["lr_volume", "oblique_affine", "smooth_volume", "unit_volume"]
