"""The srbench conformance kit on this distribution's registrations."""

from srbench.testing import conformance_tests

test_conformance = conformance_tests("srbench-mri-trigan")
