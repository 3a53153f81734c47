"""Generic training pieces shared by every learned method (no method keeps a private copy).

- :mod:`~srbench.training.config`: :class:`TrainingConfig`, presets and overrides.
- :mod:`~srbench.training.trainer`: :class:`MethodTrainer`, the trainer record a method registers.
- :mod:`~srbench.training.patches`: deterministic (LR, HR) patch batches.
- :mod:`~srbench.training.loop`: :func:`run_training` (resume, logging, DDP).
- :mod:`~srbench.training.checkpoint`: writing checkpoints, restoring optimisers (reading is
  :mod:`srbench.io.checkpoint`; the inference side, :class:`~srbench.models.CheckpointModel`).
- :mod:`~srbench.training.runs`: run directories (re-exported from :mod:`srbench.runs`, which evaluation reads too).
- :mod:`~srbench.training.distributed`, :mod:`~srbench.training.logging`,
  :mod:`~srbench.training.manifest`, :mod:`~srbench.training.seeding`: the loop's helpers.

Submodules are imported on demand (``from srbench.training.loop import run_training``).
"""
