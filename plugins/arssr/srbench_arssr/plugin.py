"""srbench hook implementations of the ArSSR plugin."""

from srbench import hookimpl

from srbench_arssr.trainer import ArSSRModel, ArSSRTrainer

SRBENCH_API_VERSIONS = ("1",)


@hookimpl
def register_models():
    return [ArSSRModel()]


@hookimpl
def register_trainers():
    return [ArSSRTrainer()]
