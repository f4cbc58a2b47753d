"""The CLI commands: one module per command, each with ``register(subparsers, parents)`` and ``run(args) -> int``."""
