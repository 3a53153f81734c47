"""Built-in plugin: the image-quality metrics PSNR, SSIM, NRMSE and LPIPS, and the
intensity-bias diagnostic ``bias`` (signed, not ranked).

The metrics themselves live in :mod:`srbench.metrics`; every one of them is computed on
volumes scaled by the intensity convention of :mod:`srbench.metrics.convention`.
"""

from __future__ import annotations

from srbench import hookimpl
from srbench.metrics.bias import BiasMetric
from srbench.metrics.lpips import LPIPSMetric
from srbench.metrics.nrmse import NRMSEMetric
from srbench.metrics.psnr import PSNRMetric
from srbench.metrics.ssim import SSIMMetric


@hookimpl
def register_metrics():
    return [PSNRMetric(), SSIMMetric(), NRMSEMetric(), LPIPSMetric(), BiasMetric()]
