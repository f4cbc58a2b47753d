"""Running the app under uvicorn: in the foreground (``motionkit serve``) or in a background thread (tests,
benchmarks, programs that embed the service)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from motionkit.errors import ConfigError
from motionkit.serve.config import ServeConfig

WS_SIZE_MARGIN = 4
"""uvicorn's own WebSocket message limit, in multiples of ``max_message_bytes``: messages over the service's limit
still arrive, so the service answers them with a clear error instead of the socket being dropped."""
STARTUP_TIMEOUT = 60.0


def uvicorn_config(app: FastAPI, config: ServeConfig, log_level: str = "info") -> uvicorn.Config:
    """uvicorn's settings for the service (host, port, WebSocket size limit)."""
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        ws="websockets-sansio",
        ws_max_size=WS_SIZE_MARGIN * config.max_message_bytes,
        log_level=log_level,
    )


class BackgroundServer:
    """The service on a real socket in a background thread; ``with BackgroundServer(app, config) as url:``.

    With ``config.port == 0`` the system picks a free port; ``url`` (``http://host:port``) names it.
    """

    def __init__(self, app: FastAPI, config: ServeConfig, log_level: str = "warning") -> None:
        self.server = uvicorn.Server(uvicorn_config(app, config, log_level))
        self.thread = threading.Thread(target=self.server.run, name="motionkit-serve", daemon=True)
        self.host = config.host

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the server did not start on {self.host} (is the port in use?).")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}"

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self.thread.join()
