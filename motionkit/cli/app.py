"""The ``motionkit`` command: parser, dispatch, one-line errors and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from typing import TextIO

from motionkit._version import __version__
from motionkit.cli.commands import (
    calibrate,
    convert,
    demo,
    drive,
    dub,
    edit,
    evaluate,
    explore,
    faces,
    generate,
    info,
    serve,
    train,
)
from motionkit.cli.common import HelpFormatter
from motionkit.errors import CheckpointError, MotionkitError, OutputError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_CHECKPOINT = 4
EXIT_OUTPUT = 5
EXIT_INTERRUPTED = 130

ISSUES_URL = "https://github.com/motionkit/motionkit/issues"

COMMANDS = (generate, drive, dub, convert, edit, explore, calibrate, info, evaluate, faces, train, demo, serve)

EPILOG = f"""\
Run `motionkit COMMAND --help` for a command's options and their defaults.
Add --debug to any command to see the full traceback of an error.

exit codes:
  {EXIT_OK}    success
  {EXIT_INTERNAL}    internal error (a bug: rerun with --debug and report the traceback)
  {EXIT_USAGE}    usage error (unknown option, missing or malformed argument)
  {EXIT_INPUT}    invalid input (image, audio, emotion, edit program, settings)
  {EXIT_CHECKPOINT}    checkpoint problem (missing, corrupt or mismatched weights or model folder)
  {EXIT_OUTPUT}    output problem (file exists without --overwrite, folder missing or not writable)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); no partial output is left behind
"""

DESCRIPTION = """\
motionkit: audio-driven talking portraits (after FLOAT), from the command line.

  motionkit demo                                      try it: bundled model, speech and portrait
  motionkit convert-float --checkpoint float.pth ...  make a model folder from the official FLOAT weights
  motionkit convert-imtalker --renderer renderer.ckpt ...  the same from IMTalker's official checkpoints
  motionkit generate portrait.jpg speech.wav -o out.mp4 --model DIR
  motionkit serve                                     live talking heads and a web page at http://127.0.0.1:8000/
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``motionkit`` parser with every command."""
    # --debug / --quiet are accepted before and after the command; SUPPRESS keeps a subcommand from resetting them.
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error (default: off)",
    )
    flags.add_argument(
        "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars (default: bars on a terminal)"
    )
    parser = argparse.ArgumentParser(
        prog="motionkit", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter, parents=[flags]
    )
    parser.add_argument("--version", action="version", version=f"motionkit {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers, [flags])
    return parser


def exit_code(error: BaseException) -> int:
    """The exit status of a failed command."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, CheckpointError):
        return EXIT_CHECKPOINT
    if isinstance(error, OutputError):
        return EXIT_OUTPUT
    if isinstance(error, MotionkitError):
        return EXIT_INPUT
    return EXIT_INTERNAL


def error_line(error: BaseException) -> str:
    """The one line printed for a failed command."""
    if isinstance(error, KeyboardInterrupt):
        return "motionkit: interrupted; no partial output was left behind."
    if isinstance(error, MotionkitError):
        message = error.cli_message()  # the fix in options and files, where the library's message says Python
    else:
        message = (
            f"internal error ({type(error).__name__}: {error}). This is a bug in motionkit: rerun the command with "
            f"--debug and report the traceback at {ISSUES_URL}."
        )
    return "motionkit: error: " + " ".join(message.split())


@contextlib.contextmanager
def one_line_warnings(stream: TextIO) -> Iterator[None]:
    """Show warnings as single ``motionkit: warning: ...`` lines (once per message) while a command runs."""
    original = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
        print("motionkit: warning: " + " ".join(str(message).split()), file=stream)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = original


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``motionkit`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed by argparse
        return int(done.code or 0) if not isinstance(done.code, str) else EXIT_USAGE
    args.debug = getattr(args, "debug", False)
    args.quiet = getattr(args, "quiet", False)
    try:
        with one_line_warnings(sys.stderr):
            return int(args.func(args))
    except SystemExit as done:  # a usage error found by a command (parser.error)
        return int(done.code or 0) if not isinstance(done.code, str) else EXIT_USAGE
    except (Exception, KeyboardInterrupt) as error:
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(error_line(error), file=sys.stderr)
        return exit_code(error)
