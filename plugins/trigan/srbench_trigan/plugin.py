"""srbench hook implementations of the three-player GAN plugin: its model and its trainer."""

from srbench.method_hooks import method_hooks

from srbench_trigan.model import MODEL
from srbench_trigan.trainer import TRAINER

SRBENCH_API_VERSIONS = ("1",)

register_models, register_trainers = method_hooks(models=[MODEL], trainers=[TRAINER])
