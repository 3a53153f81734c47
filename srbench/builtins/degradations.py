"""Built-in plugin: the degradations (paper-linear is the default)."""

from srbench import hookimpl
from srbench.data.degradations import BlurNoise, KSpaceTruncation, PaperLinear

DEFAULT_DEGRADATION = "paper-linear"


@hookimpl
def register_degradations():
    return [PaperLinear(), KSpaceTruncation(), BlurNoise()]
