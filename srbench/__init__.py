"""srbench: a benchmark harness for 3D MRI super-resolution, built from plugins."""

from importlib.metadata import PackageNotFoundError, version

from srbench.hookspecs import API_VERSION, hookimpl

try:
    __version__ = version("srbench-mri")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["API_VERSION", "__version__", "hookimpl"]
