"""The API's bearer token (engagement_scorer.security) and secrets that never reach a log line."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from engagement.kafka_security import KafkaSecurity
from engagement.logging import configure_structlog, logging_config
from engagement.settings import Settings
from engagement_scorer.security import ApiAuth, api_auth_middleware, peer_headers, settings_for_log

TOKEN = "api-T0ken-never-logged"
SASL_PASSWORD = "sasl-Pa55word-never-logged"
KEY_PASSWORD = "key-Pa55word-never-logged"
SECRETS = (TOKEN, SASL_PASSWORD, KEY_PASSWORD)


# --------------------------------------------------------------------------------------------
# the rule
# --------------------------------------------------------------------------------------------


def test_without_a_token_everything_is_open() -> None:
    auth = ApiAuth(None)
    assert not auth.enabled
    assert auth.problem("/orgs", None) is None
    assert auth.headers() == {}
    assert ApiAuth(SecretStr("")).problem("/orgs", None) is None  # empty = unset


@pytest.mark.parametrize(
    ("path", "authorization", "problem"),
    [
        ("/orgs", None, "missing bearer token"),
        ("/orgs", "", "missing bearer token"),
        ("/orgs", "Bearer", "missing bearer token"),
        ("/orgs", f"Basic {TOKEN}", "missing bearer token"),
        ("/orgs", "Bearer wrong", "invalid bearer token"),
        ("/orgs", f"Bearer {TOKEN}x", "invalid bearer token"),
        ("/orgs", f"Bearer {TOKEN[:-1]}", "invalid bearer token"),
        ("/orgs", f"Bearer {TOKEN}", None),
        ("/orgs", f"bearer  {TOKEN} ", None),
        ("/orgs/o1/score", None, "missing bearer token"),
        ("/metrics", None, "missing bearer token"),
        ("/health", None, None),
        ("/ready", None, None),
        ("/health/", None, "missing bearer token"),  # exact paths only
        ("/healthz", None, "missing bearer token"),
    ],
)
def test_token_rule(path: str, authorization: str | None, problem: str | None) -> None:
    assert ApiAuth(SecretStr(TOKEN)).problem(path, authorization) == problem


def test_open_paths_are_configurable_with_prefixes() -> None:
    auth = ApiAuth(TOKEN, ["/health", "/metrics", "/ui/", "/static/*"])
    assert auth.is_open("/metrics")
    assert auth.is_open("/ui/orgs/o1")
    assert auth.is_open("/static/app.js")
    assert not auth.is_open("/ready")
    assert not auth.is_open("/ui")
    assert not auth.is_open("/orgs")


def test_repr_and_peer_headers() -> None:
    auth = ApiAuth(SecretStr(TOKEN))
    assert TOKEN not in repr(auth)
    assert auth.headers() == {"Authorization": f"Bearer {TOKEN}"}


# --------------------------------------------------------------------------------------------
# the middleware on a real aiohttp server
# --------------------------------------------------------------------------------------------


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path})


@pytest.fixture
async def client() -> Any:
    app = web.Application(middlewares=[api_auth_middleware(ApiAuth(SecretStr(TOKEN)))])
    for path in ("/health", "/ready", "/metrics", "/orgs", "/orgs/{org_id}/score"):
        app.router.add_get(path, _ok)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_middleware_answers_401_problem_without_or_with_a_wrong_token(client: Any) -> None:
    for headers, detail in (
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer nope"}, "invalid bearer token"),
    ):
        for path in ("/orgs", "/orgs/o1/score", "/metrics"):
            resp = await client.get(path, headers=headers)
            assert resp.status == 401
            assert resp.content_type == "application/problem+json"
            assert await resp.json(content_type=None) == {
                "type": "about:blank",
                "title": "Unauthorized",
                "status": 401,
                "detail": detail,
            }
            assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="engagement-score"')
    resp = await client.get("/orgs", headers={"Authorization": "Bearer nope"})
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


async def test_middleware_lets_the_token_and_the_probes_through(client: Any) -> None:
    for path in ("/orgs", "/orgs/o1/score", "/metrics"):
        resp = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status == 200, path
        assert (await resp.json())["path"] == path
    for path in ("/health", "/ready"):
        assert (await client.get(path)).status == 200


# --------------------------------------------------------------------------------------------
# secrets in settings never reach a log line
# --------------------------------------------------------------------------------------------


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in {
        "ENGAGEMENT_API_TOKEN": TOKEN,
        "ENGAGEMENT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ENGAGEMENT_KAFKA_SASL_USERNAME": "scorer",
        "ENGAGEMENT_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        "ENGAGEMENT_KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    # the secrets were read (so their absence below means something)
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == TOKEN
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == SASL_PASSWORD
    assert settings.kafka_ssl_key_password is not None
    assert settings.kafka_ssl_key_password.get_secret_value() == KEY_PASSWORD
    return settings


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_settings_repr_str_and_dumps_mask_secrets(secret_settings: Settings) -> None:
    dumped = settings_for_log(secret_settings)
    assert dumped["api_token"] == "**********"
    assert dumped["kafka_sasl_password"] == "**********"
    assert dumped["kafka_sasl_username"] == "scorer"
    for text in (
        repr(secret_settings),
        str(secret_settings),
        secret_settings.model_dump_json(),
        json.dumps(dumped),
        repr(secret_settings.model_dump()),
        repr(KafkaSecurity.from_settings(secret_settings)),
        repr(ApiAuth.from_settings(secret_settings)),
    ):
        _assert_no_secret(text)
    assert peer_headers(secret_settings) == {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_logging_settings_objects_never_shows_secrets(secret_settings: Settings, fmt: str) -> None:
    buffer = io.StringIO()
    config = logging_config("info", fmt)
    config["handlers"]["default"]["stream"] = buffer
    logging.config.dictConfig(config)
    configure_structlog()
    log = structlog.get_logger("test.security")
    try:
        log.info("settings as object", settings=secret_settings)
        log.info("settings as dict", settings=secret_settings.model_dump())
        log.info("settings for log", settings=settings_for_log(secret_settings))
        log.info("fields", **secret_settings.model_dump())
        log.info("credentials", security=KafkaSecurity.from_settings(secret_settings))
        logging.getLogger("test.stdlib").warning("stdlib %r", secret_settings)
        try:
            raise RuntimeError(f"failed with {secret_settings!r}")
        except RuntimeError:
            log.exception("with a traceback")
    finally:
        logging.getLogger().handlers.clear()
    text = buffer.getvalue()
    events = ["settings as object", "settings as dict", "settings for log", "fields", "stdlib"]
    for name in events + (["with a traceback"] if fmt == "json" else []):
        assert name in text
    assert "**********" in text
    _assert_no_secret(text)


def _connect(sasl_plain_password: str) -> None:
    auth_settings = {"sasl_plain_password": sasl_plain_password}  # as in a library's frame
    raise ConnectionError(f"handshake failed ({len(auth_settings)} settings)")


def test_logged_tracebacks_carry_no_frame_locals() -> None:
    """A library that logs an exception must not log its frames' local variables: they can
    hold a password (aiokafka's auth settings) or an event's raw bytes."""
    buffer = io.StringIO()
    config = logging_config("info", "json")
    config["handlers"]["default"]["stream"] = buffer
    logging.config.dictConfig(config)
    configure_structlog()
    try:
        try:
            _connect(SASL_PASSWORD)
        except ConnectionError:
            logging.getLogger("aiokafka").exception("connection failed")
            structlog.get_logger("test.security").exception("connection failed")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert len(lines) == 2
    for line in lines:
        frames = line["exception"][0]["frames"]
        assert any(f["name"] == "_connect" for f in frames)  # the traceback is still there
        assert all(not f.get("locals") for f in frames)
    _assert_no_secret(buffer.getvalue())
