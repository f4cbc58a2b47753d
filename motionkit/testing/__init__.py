"""Helpers for testing and benchmarking motionkit: synthetic FLOAT weights and the parity-fixture harness."""

from motionkit.testing.float_weights import synthetic_tensor, synthetic_weight_rule
from motionkit.testing.parity import ParityFixture, compare_to_reference, parity_fixture

__all__ = [
    "ParityFixture",
    "compare_to_reference",
    "parity_fixture",
    "synthetic_tensor",
    "synthetic_weight_rule",
]
