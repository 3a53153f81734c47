"""srbench hook implementations of the ESRGAN-3D plugin: its model and its trainer."""

from srbench.method_hooks import method_hooks

from srbench_esrgan3d.model import MODEL
from srbench_esrgan3d.trainer import TRAINER

SRBENCH_API_VERSIONS = ("1",)

register_models, register_trainers = method_hooks(models=[MODEL], trainers=[TRAINER])
