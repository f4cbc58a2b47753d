"""Triton implementations: kernels, launchers and the ``torch.library`` custom ops that wrap them.

Importing this package needs Triton. ``motionkit_kernels.dispatch`` imports it only when Triton is installed.
"""
