"""srbench hook implementations of the DCSRN plugin."""

from srbench import hookimpl

from srbench_dcsrn.trainer import DCSRNTrainer, dcsrn_model

SRBENCH_API_VERSIONS = ("1",)


@hookimpl
def register_models():
    return [dcsrn_model()]


@hookimpl
def register_trainers():
    return [DCSRNTrainer()]
