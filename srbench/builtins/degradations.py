"""Built-in plugin: the degradations (paper-linear is the default).

Options (a track's ``degradation_options``): ``kspace`` takes ``snr`` (Rician noise at that
SNR), ``blur-noise`` takes ``noise``; ``paper-linear`` takes none. See
:mod:`srbench.data.degradations`.
"""

from srbench import hookimpl
from srbench.data.degradations import BlurNoise, KSpaceTruncation, PaperLinear
from srbench.defaults import DEFAULT_DEGRADATION

__all__ = ["DEFAULT_DEGRADATION", "register_degradations"]


@hookimpl
def register_degradations():
    return [PaperLinear(), KSpaceTruncation(), BlurNoise()]
