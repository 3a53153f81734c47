"""Image-quality metrics of srbench: one intensity convention, then PSNR, SSIM, NRMSE, LPIPS
and the intensity-bias diagnostic.

Every metric compares two ``(W, H, D)`` float32 volumes that
:func:`srbench.metrics.convention.scale_pair` has mapped to [0, 1] with the HR
reference's range. PSNR, SSIM and NRMSE equal scikit-image's functions (to 1e-4) and are
written in torch for speed; LPIPS runs the ``lpips`` package slice-wise on all three
anatomical planes with a vendored, hash-checked AlexNet backbone. ``bias``
(:mod:`srbench.metrics.bias`) is the mean signed error over the HR foreground, a
diagnostic with no better direction.
"""
