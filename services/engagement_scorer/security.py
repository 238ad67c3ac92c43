"""Bearer-token protection of the worker's HTTP API, and settings that are safe to log.

With ``ENGAGEMENT_API_TOKEN`` set, every request needs ``Authorization: Bearer <token>``,
except the paths in ``ENGAGEMENT_API_OPEN_PATHS`` (default ``/health`` and ``/ready``: the
probes of an orchestrator carry no token). ``/metrics`` is protected by default because the
per-organisation series are business data; Prometheus sends the token with
``authorization: {credentials_file: ...}`` in its scrape config, or add ``/metrics`` to the
open paths. Without a token (the default) nothing is checked.

The check runs as an aiohttp middleware on the Faust web server (``api_auth_middleware``), so
it covers every route, Faust's own included. A request a worker forwards to the worker that
owns the organisation (``views.org_route``, plain HTTP) carries the original headers, token
included; the worker's own calls to its peers (``/orgs?local=1``) add it with
:func:`peer_headers`. A view can also call :meth:`ApiAuth.check` itself.

Comparison is constant-time; the token is held as a ``SecretStr`` and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from aiohttp import web
from pydantic import SecretStr

__all__ = [
    "DEFAULT_OPEN_PATHS",
    "ApiAuth",
    "api_auth_middleware",
    "peer_headers",
    "settings_for_log",
]

DEFAULT_OPEN_PATHS: Final = ("/health", "/ready")
REALM: Final = "engagement-score"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _token_bytes(token: SecretStr | str | None) -> bytes | None:
    if token is None:
        return None
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    return value.encode("utf-8") if value else None


class ApiAuth:
    """The API's bearer-token rule: which paths are open, which requests carry the token."""

    __slots__ = ("_open_exact", "_open_prefixes", "_token")

    def __init__(
        self, token: SecretStr | str | None, open_paths: Iterable[str] = DEFAULT_OPEN_PATHS
    ) -> None:
        self._token = _token_bytes(token)
        paths = [p.strip() for p in open_paths if p.strip()]
        # "/ui/" or "/ui/*": everything under /ui/ ; anything else: that exact path
        self._open_prefixes = tuple(p.rstrip("*") for p in paths if p.endswith(("/", "*")))
        self._open_exact = frozenset(p for p in paths if not p.endswith(("/", "*")))

    @classmethod
    def from_settings(cls, settings: Any) -> ApiAuth:
        return cls(settings.api_token, settings.api_open_paths)

    def __repr__(self) -> str:  # never the token
        state = "on" if self.enabled else "off"
        return f"<ApiAuth {state}, open: {sorted(self._open_exact)} {list(self._open_prefixes)}>"

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def is_open(self, path: str) -> bool:
        return path in self._open_exact or path.startswith(self._open_prefixes)

    def problem(self, path: str, authorization: str | None) -> str | None:
        """None when the request may pass, else why not (for the 401 body)."""
        if self._token is None or self.is_open(path):
            return None
        if not authorization:
            return "missing bearer token"
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return "missing bearer token"
        if not hmac.compare_digest(credentials.strip().encode("utf-8"), self._token):
            return "invalid bearer token"
        return None

    def check(self, request: Any) -> web.Response | None:
        """For views: None when authorised, else the 401 response to return."""
        problem = self.problem(request.path, request.headers.get("Authorization"))
        return None if problem is None else unauthorized(problem)

    def headers(self) -> dict[str, str]:
        """Headers for calls to another worker of the group."""
        if self._token is None:
            return {}
        return {"Authorization": "Bearer " + self._token.decode("utf-8")}


def unauthorized(problem: str) -> web.Response:
    challenge = f'Bearer realm="{REALM}"'
    if problem == "invalid bearer token":
        challenge += ', error="invalid_token"'
    # RFC 9457 problem details, like every error of the API (engagement_scorer.views)
    return web.json_response(
        {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": problem},
        status=401,
        headers={"WWW-Authenticate": challenge},
        content_type="application/problem+json",
    )


def api_auth_middleware(auth: ApiAuth) -> Any:
    """The aiohttp middleware for ``faust.App(web_application_options={"middlewares": [...]})``."""

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = auth.check(request)
        if refused is not None:
            return refused
        return await handler(request)

    return require_token


def peer_headers(settings: Any) -> dict[str, str]:
    """Authorization headers for a worker's own requests to its peers (``/orgs?local=1``)."""
    return ApiAuth.from_settings(settings).headers()


def settings_for_log(settings: Any) -> dict[str, Any]:
    """The settings as JSON-ready values, secrets masked (``SecretStr`` dumps as ``**********``,
    ``None`` when unset)."""
    dumped = settings.model_dump(mode="json")
    assert isinstance(dumped, dict)
    return dumped
