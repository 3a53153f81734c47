"""ArSSR (Wu et al., JBHI 2023) for srbench: arbitrary-scale 3D super-resolution with a CNN
encoder and an implicit MLP decoder queried at continuous HR voxel coordinates."""

__version__ = "0.1.0"
