"""srbench hook implementations of oldapi (thin: the work is in the modules they import)."""

from srbench import hookimpl

from srbench_pk_oldapi.model import oldapi_model
from srbench_pk_oldapi.trainer import OldapiTrainer

#: srbench hook API major versions this plugin supports
SRBENCH_API_VERSIONS = ("1",)


@hookimpl
def register_models():
    return [oldapi_model()]


@hookimpl
def register_trainers():
    return [OldapiTrainer()]
