"""ESRGAN-3D: ESRGAN (Wang et al., ECCV workshops 2018) made 3D, as an srbench plugin."""
