"""Who may use the service: the binding rule and the access token every request must then carry.

The service binds ``127.0.0.1`` by default. Binding any other interface exposes it to the network, so it needs a
token (``--token`` or :data:`~motionkit.serve.config.TOKEN_ENV`); with a token, every HTTP request and WebSocket
must carry it as ``Authorization: Bearer TOKEN``, a ``token`` query parameter (what a browser's WebSocket can send),
or the cookie the page gets when it is opened with ``?token=TOKEN``. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from motionkit.errors import ConfigError
from motionkit.serve.config import LOOPBACK_HOSTS, TOKEN_ENV

COOKIE = "motionkit_token"


def check_binding(host: str, token: str | None) -> None:
    """Refuse to bind a non-loopback ``host`` without a token.

    Raises:
        ConfigError: ``host`` is reachable from other machines and no token is set.
    """
    if host not in LOOPBACK_HOSTS and not token:
        raise ConfigError(
            f"refusing to serve on {host}: another machine could reach it, so every request must carry a token; "
            f"pass --token TOKEN (16+ characters) or set {TOKEN_ENV}, or bind 127.0.0.1."
        )


def presented_token(headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries (header, query parameter or cookie), if any."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip()
    return query.get("token") or cookies.get(COOKIE)


def token_ok(expected: str | None, presented: str | None) -> bool:
    """Whether a request may proceed: no token configured, or the same token presented."""
    if expected is None:
        return True
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())
