"""The ArSSR network: a CNN encoder at LR resolution and an MLP queried at continuous points.

A query point is given as a continuous LR voxel index ``u`` (see
:mod:`srbench_arssr.coordinates`). Its feature vector is the encoder's feature map sampled
trilinearly at ``u`` (``grid_sample``, ``align_corners=False``); the decoder sees that
vector concatenated with a 3D coordinate and returns one intensity.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from srbench.nn.layers import zero_init
from srbench_arssr.coordinates import normalised
from srbench_arssr.decoder import SkipMLP
from srbench_arssr.encoders import build_encoder

CoordinateFrame = Literal["global", "local"]


def sample(volume: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Trilinear samples of ``volume`` ``(B, C, w, h, d)`` at continuous indices ``(B, K, 3)``.

    Positions outside the grid take the nearest border value (``padding_mode="border"``,
    which is what ``F.interpolate(align_corners=False)`` does at the edges).

    Returns:
        ``(B, K, C)`` float tensor.
    """
    sizes = torch.tensor(volume.shape[-3:], dtype=positions.dtype, device=positions.device)
    grid = normalised(positions, sizes).flip(-1)[:, :, None, None, :]  # grid_sample wants (x=d, y=h, z=w)
    values = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return values[:, :, :, 0, 0].transpose(1, 2)


class ArSSRNetwork(nn.Module):
    """Encoder + implicit decoder.

    Args:
        encoder: ``rdn``, ``rescnn`` or ``srresnet``.
        feature_dim: channels of the feature map (paper: 128).
        encoder_channels: hidden width of the encoder (paper: 64).
        encoder_depth: RDN blocks / ResCNN groups / SRResNet blocks (``None``: the paper's).
        decoder_width: width of the MLP (paper: 256).
        decoder_layers: Linear+ReLU layers per MLP stage (paper: 4).
        coordinates: the coordinate concatenated to the feature vector. ``global`` (paper):
            the query's normalised position ``[-1, 1]`` in the frame of the whole encoded
            input (the training patch; the whole volume at inference, as the authors'
            test code does). ``local`` (a named deviation): the offset from the nearest LR
            voxel centre, in LR voxels, ``[-0.5, 0.5]``, which tells the decoder the
            sub-voxel phase and does not depend on the patch or volume size.
        residual: predict a correction added to the trilinear interpolation of the LR input
            at the query point (a named deviation); the decoder's last layer then starts at
            zero so the untrained network is trilinear interpolation. Without it the output
            passes through a final ReLU as in the authors' code.
    """

    def __init__(
        self,
        *,
        encoder: str = "rdn",
        feature_dim: int = 128,
        encoder_channels: int = 64,
        encoder_depth: int | None = None,
        decoder_width: int = 256,
        decoder_layers: int = 4,
        coordinates: CoordinateFrame = "global",
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.coordinates = coordinates
        self.residual = bool(residual)
        self.encoder = build_encoder(encoder, feature_dim=feature_dim, channels=encoder_channels, depth=encoder_depth)
        self.decoder = SkipMLP(feature_dim + 3, width=decoder_width, layers=decoder_layers)
        if self.residual:
            zero_init(self.decoder.output_layer)

    def encode(self, lr: torch.Tensor) -> torch.Tensor:
        """Feature map ``(B, feature_dim, w, h, d)`` of a normalised LR batch ``(B, 1, w, h, d)``."""
        return self.encoder(lr)

    def coordinate_input(
        self,
        positions: torch.Tensor,
        *,
        frame_offset: torch.Tensor,
        frame_size: torch.Tensor,
    ) -> torch.Tensor:
        """The ``(B, K, 3)`` coordinate fed to the decoder for LR positions ``(B, K, 3)``."""
        if self.coordinates == "local":
            return positions - torch.round(positions)
        return normalised(positions + frame_offset.to(positions), frame_size)

    def query(
        self,
        lr: torch.Tensor,
        features: torch.Tensor,
        positions: torch.Tensor,
        *,
        frame_offset: torch.Tensor | None = None,
        frame_size: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Intensities at continuous LR indices.

        Args:
            lr: ``(B, 1, w, h, d)`` normalised LR input (for the residual's interpolation).
            features: ``(B, C, w, h, d)`` from :meth:`encode` of ``lr``.
            positions: ``(B, K, 3)`` continuous indices on ``lr``'s grid (voxel centres at
                integers).
            frame_offset: ``(3,)`` index of ``lr``'s first voxel in the frame of the
                ``global`` coordinates (default 0: ``lr`` is the whole frame).
            frame_size: ``(3,)`` voxels of that frame (default: ``lr``'s shape).

        Returns:
            ``(B, K)`` normalised intensities.
        """
        shape = torch.tensor(lr.shape[-3:], dtype=positions.dtype, device=positions.device)
        offset = torch.zeros(3, dtype=positions.dtype, device=positions.device) if frame_offset is None else frame_offset
        size = shape if frame_size is None else frame_size.to(positions)
        coords = self.coordinate_input(positions, frame_offset=offset, frame_size=size)
        inputs = torch.cat([sample(features, positions), coords], dim=-1)
        out = self.decoder(inputs.reshape(-1, inputs.shape[-1])).reshape(positions.shape[:2])
        if self.residual:
            return out + sample(lr, positions)[..., 0]
        return torch.relu(out)

    def forward(self, lr: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``(B, 1, w, h, d)`` LR and ``(B, K, 3)`` positions → ``(B, K)`` intensities."""
        return self.query(lr, self.encode(lr), positions)
