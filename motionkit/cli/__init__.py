"""The ``motionkit`` command line: generate, convert-float, edit, explore, info, eval, train, demo.

``main(argv) -> int`` runs one command and returns its exit status (see ``motionkit --help`` for the codes);
errors are printed as one ``motionkit: error: ...`` line (``--debug`` adds the traceback).
"""

from motionkit.cli.app import (
    EXIT_CHECKPOINT,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    build_parser,
    main,
)

__all__ = [
    "EXIT_CHECKPOINT",
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "build_parser",
    "main",
]
