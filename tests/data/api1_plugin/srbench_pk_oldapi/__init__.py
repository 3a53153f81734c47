"""oldapi: a 3D MRI super-resolution method for srbench (plugin distribution srbench-mri-oldapi)."""
