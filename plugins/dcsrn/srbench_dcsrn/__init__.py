"""DCSRN (Chen et al., ISBI 2018) for srbench: a densely connected 3D network that refines
the trilinearly interpolated LR volume on the HR grid."""

__version__ = "0.1.0"
