"""srbench's conformance kit for plugin authors.

Run the battery on a distribution's registrations from pytest, either with the plugin::

    pytest -p srbench.testing --srbench-distribution srbench-mri-mymethod

(or ``srbench_distributions = ["srbench-mri-mymethod"]`` under ``[tool.pytest.ini_options]``;
without a selection every installed plugin is checked), or from a test module::

    from srbench.testing import conformance_tests

    test_conformance = conformance_tests("srbench-mri-mymethod")

The checks themselves are plain functions in :mod:`srbench.testing.checks`, which
``srbench plugins --check`` also runs. Only the pytest parts need pytest installed.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("pytest") is not None:
    from srbench.testing.pytest_plugin import (
        conformance_tests,
        pytest_addoption,
        pytest_configure,
        pytest_make_collect_report,
        pytest_unconfigure,
    )

    __all__ = [
        "conformance_tests",
        "pytest_addoption",
        "pytest_configure",
        "pytest_make_collect_report",
        "pytest_unconfigure",
    ]
