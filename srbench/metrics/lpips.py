"""LPIPS (AlexNet, v0.1) computed slice-wise on the three anatomical planes of a volume.

The network is the ``lpips`` package's :class:`lpips.LPIPS` (net ``alex``, version
``0.1``, its bundled linear heads) whose ImageNet AlexNet backbone is loaded from the
file vendored beside this module, ``weights/alexnet_features.pth``, after checking its
sha256 (see ``weights/LICENSE.md`` for provenance and licences). Nothing is downloaded
and a missing or altered file is an error: LPIPS is never computed with random weights.

How a volume pair becomes three numbers:

- The planes are named from the HR affine with ``nibabel.aff2axcodes``: slicing across
  the array axis that points L/R gives sagittal slices, A/P coronal, S/I axial.
- Each 2D slice (its two remaining array axes kept in array order) is a grey image in
  [0, 1]; it is mapped to [-1, 1] and repeated to three channels, as LPIPS expects.
- AlexNet needs at least :data:`MIN_SIDE` pixels per side (smaller inputs shrink to
  nothing in its pooling layers). A shorter side (e.g. the 24-slice knee volume, whose
  coronal and axial slices are 256 × 24) is padded symmetrically to :data:`MIN_SIDE`
  by mirroring with the edge pixel repeated, identically for SR and HR; the pixel scale
  is kept, and the padded border repeats nearby content so it neither hides nor
  invents differences.
- Slices where SR and HR are identical have LPIPS exactly 0 and are not run through the
  network; the plane's value is the mean over *all* its slices.
- Inside the evaluation mask (:mod:`srbench.metrics.mask`, what ``lpips`` reports in an
  evaluation): outside the mask the prediction takes the reference's values, slices
  without mask voxels are skipped, and each layer's distance map is averaged with the
  mask's share of each cell as weight (:func:`plane_lpips`).
- ``lpips`` is the mean of the three plane values.
"""

from __future__ import annotations

import functools
import math
import warnings
from pathlib import Path
from types import MappingProxyType

import nibabel as nib
import numpy as np
import torch

from srbench.errors import SrbenchRuntimeError, exception_line
from srbench.interfaces import ColumnDisplay
from srbench.io.hashing import sha256_file
from srbench.metrics.mask import outside_replaced

#: The vendored ImageNet AlexNet ``features`` state dict and its expected file hash.
BACKBONE_FILE = Path(__file__).resolve().parent / "weights" / "alexnet_features.pth"
BACKBONE_SHA256 = "1454cf628f565bb39c929b4ab19c33d8c662292055b946c48daaeb6ccaf8811d"

#: torchvision ``features.<i>`` → the ``lpips.pretrained_networks.alexnet`` slice holding layer i.
BACKBONE_KEY_PREFIXES = {
    "features.0.": "slice1.0.",
    "features.3.": "slice2.3.",
    "features.6.": "slice3.6.",
    "features.8.": "slice4.8.",
    "features.10.": "slice5.10.",
}

#: The three planes, in the order they are reported.
PLANES = ("sagittal", "coronal", "axial")
#: how the columns are computed, stated in the header of every leaderboard showing them
PLANES_TEXT = "sagittal, coronal, axial (slice-wise 2D, AlexNet v0.1), mean of the three"
_PLANE_OF_CODE = {"L": "sagittal", "R": "sagittal", "A": "coronal", "P": "coronal", "S": "axial", "I": "axial"}

#: Smallest slice side AlexNet's feature stack accepts (31 px); sides below are padded to 32.
MIN_SIDE = 32

#: Slices per forward pass. Memory is about 20 MB per 300 × 320 slice pair; on a 2-core
#: CPU 8 was measured fastest (32 slices/s against 29 for 16; channels-last and bf16
#: autocast were 3-4× slower there).
BATCH_SIZE = 8


def load_backbone_state(path: Path = BACKBONE_FILE, *, sha256: str = BACKBONE_SHA256) -> dict[str, torch.Tensor]:
    """Read the AlexNet backbone after checking its sha256; keys renamed for ``LPIPS.net``.

    Raises:
        SrbenchRuntimeError: the file is missing, its hash differs, or it does not hold
            exactly the expected AlexNet ``features`` tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise SrbenchRuntimeError(
            f"{path}: the LPIPS AlexNet backbone is missing; reinstall srbench-mri, which ships this file"
        )
    digest = sha256_file(path)
    if digest != sha256:
        raise SrbenchRuntimeError(
            f"{path}: sha256 {digest} differs from the vendored AlexNet backbone's {sha256}; "
            f"refusing to compute LPIPS with other weights (reinstall srbench-mri)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise SrbenchRuntimeError(f"{path}: cannot read the LPIPS AlexNet backbone ({type(exc).__name__})") from None
    renamed: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        prefix = next((p for p in BACKBONE_KEY_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            raise SrbenchRuntimeError(f"{path}: unexpected tensor '{key}' in the LPIPS AlexNet backbone")
        renamed[BACKBONE_KEY_PREFIXES[prefix] + key[len(prefix) :]] = tensor
    return renamed


def build_lpips_network(
    *, backbone: Path = BACKBONE_FILE, sha256: str = BACKBONE_SHA256, device: str = "cpu"
) -> torch.nn.Module:
    """A fresh, frozen ``lpips.LPIPS(net='alex', version='0.1')`` with the vendored backbone.

    The ``lpips`` package would download the backbone; instead it is built with a random
    backbone (``pnet_rand=True``, no network access) that is then overwritten, strictly
    (all ten tensors, nothing missing or extra), by the hash-checked file.
    """
    import lpips

    state = load_backbone_state(backbone, sha256=sha256)
    with warnings.catch_warnings():
        # torchvision's deprecation notes about lpips' ``pretrained=`` argument
        warnings.simplefilter("ignore", UserWarning)
        network = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    try:
        network.net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = exception_line(exc)
        raise SrbenchRuntimeError(f"{backbone}: does not fit lpips' AlexNet ({first})") from None
    network.eval()
    network.requires_grad_(False)
    return network.to(device)


@functools.cache
def _cached_network(device: str) -> torch.nn.Module:
    return build_lpips_network(device=device)


def lpips_network(device: str = "cpu") -> torch.nn.Module:
    """The ready ``lpips.LPIPS`` module (AlexNet, v0.1, vendored backbone), one per process and device.

    Inputs follow lpips' convention: ``(B, 3, H, W)`` RGB in [-1, 1]; the output is
    ``(B, 1, 1, 1)``. Treat the returned module as read-only: it is shared.
    """
    return _cached_network(str(torch.device(device)))


def plane_axes(affine: np.ndarray) -> dict[str, int]:
    """Array axis to slice across for each plane, from the voxel→world ``affine`` (4 × 4).

    Example: an RAS-oriented volume gives ``{"sagittal": 0, "coronal": 1, "axial": 2}``.
    """
    codes = nib.aff2axcodes(np.asarray(affine, dtype=np.float64))
    axes: dict[str, int] = {}
    for axis, code in enumerate(codes):
        if code is None or code not in _PLANE_OF_CODE:
            raise SrbenchRuntimeError(f"the HR affine gives array axis {axis} no anatomical direction ({codes})")
        axes[_PLANE_OF_CODE[code]] = axis
    return {plane: axes[plane] for plane in PLANES}


def _symmetric_index(length: int, target: int) -> torch.Tensor:
    """Indices that pad ``length`` samples to ``target`` by mirroring (edge repeated), centred."""
    before = (target - length) // 2
    positions = torch.arange(-before, target - before) % (2 * length)
    return torch.where(positions >= length, 2 * length - 1 - positions, positions)


def layer_distances(network: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
    """LPIPS's per-layer distance maps before their spatial average.

    ``network(a, b)`` is the sum over layers of each map's spatial mean; this returns the
    maps themselves, ``(B, 1, h_l, w_l)`` per AlexNet layer ``l`` (5 layers), for inputs
    ``(B, 3, H, W)`` in [-1, 1], so a masked mean can weight them.
    """
    import lpips

    features_a = network.net(network.scaling_layer(a))
    features_b = network.net(network.scaling_layer(b))
    return [
        network.lins[layer]((lpips.normalize_tensor(features_a[layer]) - lpips.normalize_tensor(features_b[layer])) ** 2)
        for layer in range(network.L)
    ]


def _padded(slices: torch.Tensor) -> torch.Tensor:
    """``(B, h, w)`` slices padded to sides ≥ MIN_SIDE exactly as :func:`_lpips_input` pads them."""
    for dim in (1, 2):
        length = slices.shape[dim]
        if length < MIN_SIDE:
            slices = slices.index_select(dim, _symmetric_index(length, MIN_SIDE).to(slices.device))
    return slices


def _lpips_input(slices: torch.Tensor) -> torch.Tensor:
    """``(B, h, w)`` grey slices in [0, 1] → ``(B, 3, h', w')`` in [-1, 1], sides ≥ MIN_SIDE."""
    grey = _padded(slices).mul(2.0).sub_(1.0)
    return grey.unsqueeze(1).expand(-1, 3, -1, -1)


def _layer_weights(mask_slices: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    """The mask's share of each layer cell: ``(B, h, w)`` bool slices → ``(B, 1, h_l, w_l)`` per layer."""
    padded = _padded(mask_slices).unsqueeze(1).to(torch.float32)
    return [torch.nn.functional.interpolate(padded, size=size, mode="area") for size in sizes]


def plane_lpips(
    sr: torch.Tensor, hr: torch.Tensor, *, axis: int, network: torch.nn.Module, batch_size: int = BATCH_SIZE,
    mask: torch.Tensor | None = None,
) -> float:
    """Mean LPIPS over the 2D slices across array ``axis`` of two ``(W, H, D)`` volumes in [0, 1].

    Without ``mask``: the mean over all slices of each slice's LPIPS. With a ``(W, H, D)``
    bool ``mask``: per layer, the mask-weighted mean of the distance map over the slices
    that hold mask voxels (each layer cell weighted by the mask's share of it), summed over
    layers; slices without mask voxels are not run. An all-True mask gives the value
    without one.
    """
    sr_slices = sr.movedim(axis, 0)
    hr_slices = hr.movedim(axis, 0)
    count = sr_slices.shape[0]
    differs = (sr_slices != hr_slices).flatten(1).any(dim=1)
    if mask is None:
        differing = torch.nonzero(differs).flatten()
        total = torch.zeros((), dtype=torch.float64)
        with torch.inference_mode():
            for start in range(0, differing.numel(), batch_size):
                chosen = differing[start : start + batch_size]
                distances = network(
                    _lpips_input(sr_slices.index_select(0, chosen)), _lpips_input(hr_slices.index_select(0, chosen))
                )
                total += distances.sum(dtype=torch.float64).cpu()
        return float(total) / count
    mask_slices = mask.movedim(axis, 0).to(sr.device)
    holding = mask_slices.flatten(1).any(dim=1)
    differing = torch.nonzero(differs & holding).flatten()
    if differing.numel() == 0:
        return 0.0
    sums: list[torch.Tensor] = []
    totals: list[torch.Tensor] = []
    sizes: list[tuple[int, int]] = []
    with torch.inference_mode():
        for start in range(0, differing.numel(), batch_size):
            chosen = differing[start : start + batch_size]
            maps = layer_distances(
                network, _lpips_input(sr_slices.index_select(0, chosen)), _lpips_input(hr_slices.index_select(0, chosen))
            )
            if not sizes:
                sizes = [tuple(m.shape[-2:]) for m in maps]
                sums = [torch.zeros((), dtype=torch.float64) for _ in maps]
                totals = [torch.zeros((), dtype=torch.float64) for _ in maps]
            weights = _layer_weights(mask_slices.index_select(0, chosen), sizes)
            for layer, (distance, weight) in enumerate(zip(maps, weights, strict=True)):
                sums[layer] += (distance * weight).sum(dtype=torch.float64).cpu()
                totals[layer] += weight.sum(dtype=torch.float64).cpu()
        # slices with mask voxels where SR equals HR: distance 0, but their mask counts
        held = torch.nonzero(holding & ~differs).flatten()
        for start in range(0, held.numel(), 64):
            weights = _layer_weights(mask_slices.index_select(0, held[start : start + 64]), sizes)
            for layer, weight in enumerate(weights):
                totals[layer] += weight.sum(dtype=torch.float64).cpu()
    return math.fsum(float(total) / float(weight) for total, weight in zip(sums, totals, strict=True) if weight > 0)


def lpips_planes(
    sr: torch.Tensor, hr: torch.Tensor, *, affine: np.ndarray, network: torch.nn.Module | None = None,
    batch_size: int = BATCH_SIZE, mask: torch.Tensor | None = None,
) -> dict[str, float]:
    """LPIPS per anatomical plane and their mean, for ``(W, H, D)`` float32 volumes in [0, 1].

    Args:
        sr: super-resolved volume, scaled by :func:`srbench.metrics.convention.scale_pair`.
        hr: reference volume, scaled the same way.
        affine: the HR voxel→world affine (names the planes).
        network: an LPIPS module (default :func:`lpips_network` on ``hr``'s device).
        batch_size: slices per forward pass.
        mask: ``(W, H, D)`` bool evaluation mask (:func:`plane_lpips`); None: every voxel.

    Returns:
        ``{"lpips_sagittal", "lpips_coronal", "lpips_axial", "lpips"}`` (lower is better).
    """
    if sr.shape != hr.shape or sr.dim() != 3:
        raise ValueError(f"LPIPS needs two (W, H, D) tensors of one shape, got {tuple(sr.shape)} and {tuple(hr.shape)}")
    network = lpips_network(str(hr.device)) if network is None else network
    sr = sr.detach().to(torch.float32)
    hr = hr.detach().to(device=sr.device, dtype=torch.float32)
    values = {
        f"lpips_{plane}": plane_lpips(sr, hr, axis=axis, network=network, batch_size=batch_size, mask=mask)
        for plane, axis in plane_axes(affine).items()
    }
    values["lpips"] = math.fsum(values.values()) / len(PLANES)
    return values


class LPIPSMetric:
    """The ``lpips`` metric (per plane and mean; lower is better) as a :class:`~srbench.interfaces.Metric`.

    Inside the evaluation mask: the prediction's background is replaced by the HR
    reference's (:func:`srbench.metrics.mask.outside_replaced`), and each plane's value is
    the mask-weighted mean of LPIPS's layer maps over the slices that hold mask voxels
    (:func:`plane_lpips`). No whole-volume LPIPS is computed: it would double the metric's
    cost, and whole-volume PSNR, SSIM and NRMSE already show the background's weight.

    The network is built on the first :meth:`compute`, not at registration, so listing
    plugins stays fast and a damaged weights file only fails the LPIPS computation.
    """

    name = "lpips"
    description = (
        "LPIPS AlexNet v0.1, slice-wise on the sagittal, coronal and axial planes and their mean, "
        "mask-weighted inside the evaluation mask (background = HR's)"
    )
    outputs = MappingProxyType({"lpips": False} | {f"lpips_{plane}": False for plane in PLANES})
    display = MappingProxyType(
        {"lpips": ColumnDisplay(label="LPIPS", order=40, key=True, setup=("LPIPS planes", PLANES_TEXT))}
        | {f"lpips_{plane}": ColumnDisplay(label=f"LPIPS {plane}", group="lpips", order=40) for plane in PLANES}
    )
    symmetric = True
    masked = True

    def compute(self, sr: torch.Tensor, hr: torch.Tensor, *, affine: np.ndarray,
                mask: torch.Tensor | None = None) -> dict[str, float]:
        """LPIPS columns for ``(W, H, D)`` volumes already scaled to [0, 1]; ``affine`` is HR's;
        ``mask`` the ``(W, H, D)`` bool evaluation mask (None: every voxel, unweighted)."""
        if mask is None:
            return lpips_planes(sr, hr, affine=affine)
        return lpips_planes(outside_replaced(sr, hr, mask), hr, affine=affine, mask=mask)
