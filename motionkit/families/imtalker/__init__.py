"""The IMTalker family: IMTalker's implicit-motion-transfer renderer and flow-matching motion generator
(``bigai-nlco/IMTalker``, code Apache-2.0), loaded from its official checkpoints.

Checkpoint layout, architecture and numerics: ``../shared/imtalker/spec.md``; parity fixture:
:mod:`motionkit.testing.imtalker_parity`.
"""
