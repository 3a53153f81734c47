"""Built-in plugin: the degradations (paper-linear is the default).

Options (a track's ``degradation_options``): ``kspace`` takes ``snr`` (Rician noise at that
SNR), ``blur-noise`` takes ``noise``; ``paper-linear`` takes none. See
:mod:`srbench.data.degradations`.
"""

from srbench import hookimpl
from srbench.data.degradations import BlurNoise, KSpaceTruncation, PaperLinear

DEFAULT_DEGRADATION = "paper-linear"


@hookimpl
def register_degradations():
    return [PaperLinear(), KSpaceTruncation(), BlurNoise()]
