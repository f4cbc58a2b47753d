"""``motionkit serve``: the live talking-head service, the job API and the web page (docs/serve.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from motionkit.cli.common import HelpFormatter, add_device_options, add_model_option, load_pipeline, positive_int
from motionkit.errors import ConfigError
from motionkit.serve.config import MEBIBYTE, TOKEN_ENV, ServeConfig
from motionkit.serve.security import check_binding

DESCRIPTION = f"""\
Serve talking heads: live sessions over a WebSocket (speech in as it is spoken, JPEG frames out, nods and turns
on request), video jobs over HTTP, and a web page at / that does both from a browser (no internet needed).

It binds 127.0.0.1 (this machine only) unless --host says otherwise; any other host needs an access token
(--token or ${TOKEN_ENV}) that every request must then carry. One process serves one device; run one per GPU
behind a load balancer with sticky WebSocket sessions (docs/serve.md).

example:
  motionkit serve                       # then open http://127.0.0.1:8000/
  motionkit serve --model synthetic-demo --port 8080
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        parents=parents,
        help="live talking heads over WebSocket, video jobs over HTTP, and a web page",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add_model_option(parser)
    add_device_options(parser)
    defaults = ServeConfig()
    parser.add_argument("--host", default=defaults.host, help="interface to bind (others than loopback need a token)")
    parser.add_argument("--port", type=int, default=defaults.port, help="TCP port")
    parser.add_argument(
        "--token", help=f"access token (16+ characters) every request must carry (default: ${TOKEN_ENV}, else none)"
    )
    parser.add_argument(
        "--max-sessions", type=positive_int, default=defaults.max_sessions, help="live sessions open at once"
    )
    parser.add_argument(
        "--max-jobs", type=positive_int, default=defaults.max_queued_jobs, help="jobs queued or running at once"
    )
    parser.add_argument(
        "--max-upload-mb",
        type=positive_int,
        default=defaults.max_upload_bytes // MEBIBYTE,
        help="largest uploaded portrait or speech file, in MiB",
    )
    parser.add_argument(
        "--live-max-side",
        type=positive_int,
        metavar="PX",
        default=defaults.live_max_side,
        help="longest side a live session draws a photo at, for the photo family (whole-photo drawing: its cost "
        "follows the pixels); raise it on a faster machine",
    )
    parser.add_argument(
        "--job-max-side",
        type=positive_int,
        metavar="PX",
        default=defaults.job_max_side,
        help="longest side a video job draws a photo at, for the photo family",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where job files are kept (default: a temporary folder removed on exit)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    check_binding(args.host, token)  # before the model is loaded
    try:
        import uvicorn

        from motionkit.serve.app import create_app
        from motionkit.serve.server import uvicorn_config
    except ImportError as exc:
        raise ConfigError(
            f"motionkit serve needs the serve extra ({exc.name} is missing): pip install 'motionkit[serve]'."
        ) from None
    try:
        config = ServeConfig(
            host=args.host,
            port=args.port,
            token=token,
            max_sessions=args.max_sessions,
            max_queued_jobs=args.max_jobs,
            max_upload_bytes=args.max_upload_mb * MEBIBYTE,
            live_max_side=args.live_max_side,
            job_max_side=args.job_max_side,
            work_dir=args.work_dir,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid serve settings: {exc}") from None
    if config.work_dir is not None and not config.work_dir.is_dir():
        raise ConfigError(f"--work-dir {config.work_dir} is not a folder; create it or choose another.")
    pipeline = load_pipeline(args)
    app = create_app(pipeline, config)
    shown = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    suffix = "?token=TOKEN" if token else ""
    print(f"motionkit serve: open http://{shown}:{config.port}/{suffix} (Ctrl-C stops)", flush=True)
    # uvicorn shuts down gracefully on Ctrl-C, then raises it again: here that is the normal way to stop
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn_config(app, config, log_level="warning" if args.quiet else "info")).run()
    print("motionkit serve: stopped", flush=True)
    return 0
