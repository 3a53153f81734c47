"""srbench hook implementations of the ESRGAN-3D plugin."""

from srbench import hookimpl

from srbench_esrgan3d.trainer import Esrgan3dTrainer, esrgan3d_model

SRBENCH_API_VERSIONS = ("1",)


@hookimpl
def register_models():
    return [esrgan3d_model()]


@hookimpl
def register_trainers():
    return [Esrgan3dTrainer()]
