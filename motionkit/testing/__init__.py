"""Helpers for testing and benchmarking motionkit: synthetic FLOAT weights, the parity-fixture harness and the
rounding rule that sets the suite's tolerances (:mod:`motionkit.testing.tolerances`)."""

from motionkit.testing.float_weights import synthetic_tensor, synthetic_weight_rule
from motionkit.testing.parity import ParityFixture, compare_to_reference, parity_fixture

__all__ = [
    "ParityFixture",
    "compare_to_reference",
    "parity_fixture",
    "synthetic_tensor",
    "synthetic_weight_rule",
]
