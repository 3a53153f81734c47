"""The three-player GAN for 3D MRI super-resolution (Wang et al.) as an srbench plugin."""

__version__ = "0.1.0"
