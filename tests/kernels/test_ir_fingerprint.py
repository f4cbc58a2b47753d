"""Dataflow fingerprints of the kernels' GPU IR: blind to names, locations, alias numbering and the order of
independent ops, sensitive to any change of what is computed."""

from __future__ import annotations

from kernel_checks import needs_triton
from motionkit_kernels import aot
from motionkit_kernels.ir_fingerprint import dataflow_fingerprint

KERNEL = """#blocked = #ttg.blocked<{sizePerThread = [1], order = [0]}>
#blocked1 = #ttg.blocked<{sizePerThread = [4], order = [0]}>
module attributes {"ttg.num-warps" = 4 : i32} {
  tt.func public @k(%X: !tt.ptr<f32> loc("X"(#loc)), %n: i32 loc("n"(#loc))) {
    %c1_i32 = arith.constant 1 : i32 loc(#loc1)
    %a = arith.addi %n, %c1_i32 : i32 loc(#loc2)
    %b = arith.subi %n, %c1_i32 : i32 loc(#loc3)
    %r = tt.make_range {end = 4 : i32, start = 0 : i32} : tensor<4xi32, #blocked> loc(#loc4)
    %w = tt.make_range {end = 4 : i32, start = 0 : i32} : tensor<4xi32, #blocked1> loc(#loc4)
    %s:2 = scf.for %i = %a to %b step %c1_i32 iter_args(%acc = %a, %other = %b) -> (i32, i32) : i32 {
      %t = arith.muli %acc, %i : i32 loc(#loc5)
      %u = arith.addi %other, %i : i32 loc(#loc6)
      scf.yield %t, %u : i32, i32 loc(#loc7)
    } loc(#loc8)
    %m = arith.subi %s#0, %s#1 : i32 loc(#loc9)
    tt.return loc(#loc10)
  } loc(#loc)
} loc(#loc)
#loc = loc("kernel.py":1:0)
#loc1 = loc("kernel.py":2:4)
"""

# The same kernel as another spelling of the source would give: other value names and locations, the independent
# ops (%a and %b, the two ranges, the loop's two updates) in another order, the two layout aliases numbered the
# other way round.
RESPELLED = """#blocked = #ttg.blocked<{sizePerThread = [4], order = [0]}>
#blocked1 = #ttg.blocked<{sizePerThread = [1], order = [0]}>
module attributes {"ttg.num-warps" = 4 : i32} {
  tt.func public @k(%ptr: !tt.ptr<f32> loc("ptr"(#loc)), %length: i32 loc("length"(#loc))) {
    %one = arith.constant 1 : i32 loc(#loc3)
    %hi = arith.subi %length, %one : i32 loc(#loc1)
    %lo = arith.addi %length, %one : i32 loc(#loc2)
    %cols = tt.make_range {end = 4 : i32, start = 0 : i32} : tensor<4xi32, #blocked> loc(#loc4)
    %rows = tt.make_range {end = 4 : i32, start = 0 : i32} : tensor<4xi32, #blocked1> loc(#loc4)
    %loop:2 = scf.for %step = %lo to %hi step %one iter_args(%x = %lo, %y = %hi) -> (i32, i32) : i32 {
      %y2 = arith.addi %y, %step : i32 loc(#loc5)
      %x2 = arith.muli %x, %step : i32 loc(#loc6)
      scf.yield %x2, %y2 : i32, i32 loc(#loc7)
    } loc(#loc8)
    %diff = arith.subi %loop#0, %loop#1 : i32 loc(#loc9)
    tt.return loc(#loc10)
  } loc(#loc)
} loc(#loc)
#loc = loc("refactored.py":1:0)
"""


def test_respelling_the_source_keeps_the_fingerprint() -> None:
    assert dataflow_fingerprint(RESPELLED) == dataflow_fingerprint(KERNEL)


def test_any_change_of_the_computation_changes_the_fingerprint() -> None:
    base = dataflow_fingerprint(KERNEL)
    changes = {
        "swapped operands of a subtraction": ("arith.subi %n, %c1_i32", "arith.subi %c1_i32, %n"),
        "another op": ("%t = arith.muli %acc", "%t = arith.addi %acc"),
        "swapped loop results": ("arith.subi %s#0, %s#1", "arith.subi %s#1, %s#0"),
        "another layout": ("sizePerThread = [4]", "sizePerThread = [2]"),
        "another loop-carried value": ("iter_args(%acc = %a,", "iter_args(%acc = %b,"),
        "other warps": ('"ttg.num-warps" = 4', '"ttg.num-warps" = 8'),
    }
    for what, (old, new) in changes.items():
        assert old in KERNEL, what
        assert dataflow_fingerprint(KERNEL.replace(old, new)) != base, what


@needs_triton
def test_real_kernels_fingerprints_are_stable_and_tell_configurations_apart() -> None:
    names = ["attention_fwd[bf16,Dh=128,narrow]", "attention_fwd[bf16,Dh=128,wide]", "adaln_fwd[fp32,norm,BLOCK_C=16]"]
    first, second = aot.fingerprints_in_subprocess(names), aot.fingerprints_in_subprocess(names[:1])
    assert len(first) == len(names) * len(aot.ARCHITECTURES)
    assert len(set(first.values())) == len(first), "distinct configurations and architectures share a fingerprint"
    assert all(first[key] == value for key, value in second.items())
