"""Security against real workers: the API's bearer token and secrets kept out of the logs.

- Two workers with ``ENGAGEMENT_API_TOKEN``: every route but /health and /ready answers 401
  JSON without the token or with a wrong one, and everything works with it, including a
  request one worker forwards to the other and the peer listing of ``/orgs``. Their logs
  (one at debug level) contain the settings, masked, and never the token.
- A worker configured for SASL_SSL/SCRAM against a plaintext listener cannot connect; it
  fails with log lines and tracebacks that never contain the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import Topics, Worker, produce, wait_until

pytestmark = pytest.mark.kafka

TOKEN = "tok-7f3c-integration-secret-never-logged"
SASL_PASSWORD = "scram-pw-91be-integration-never-logged"
KEY_PASSWORD = "key-pw-44d1-integration-never-logged"
END = TEST_NOW - timedelta(hours=1)
LOG = generate(seed=505, orgs=6, days=3, end=END, accounts_per_org=(8, 15))


def call(worker: Worker, path: str, token: str | None = None) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(worker.url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = resp.read()
            status, headers = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        body, status, headers = err.read(), err.code, dict(err.headers)
    with contextlib.suppress(ValueError):
        return status, json.loads(body or b"null"), headers
    return status, body.decode(errors="replace"), headers


def unauthorized(detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail}


def figures(body: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {k: (v["numerator"], v["denominator"]) for k, v in body["components"].items()}


def log_text(worker: Worker) -> str:
    return worker.log_path.read_text(errors="replace")


async def test_api_token_is_required_and_never_logged(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    topics = created_topics
    app_id = "sec-" + topics.prefix
    pair = [
        Worker(app_id, topics, tmp_path, extra_env={"ENGAGEMENT_API_TOKEN": TOKEN}),
        Worker(
            app_id,
            topics,
            tmp_path,
            extra_env={"ENGAGEMENT_API_TOKEN": TOKEN, "ENGAGEMENT_LOG_LEVEL": "debug"},
        ),
    ]
    for w in pair:
        workers.append(w.start())
    for w in (*pair, *pair):
        w.wait_ready()  # /ready is open: orchestrators probe without a token
    await produce(topics.profiles, LOG.profiles)
    await produce(topics.activity, LOG.activity)
    rules = Settings().scoring_rules()
    expected = recompute(LOG.activity, rules, timezones_from(LOG.profiles)).scores
    orgs = sorted(expected)

    first, second = pair
    wait_until(
        lambda: call(first, "/orgs", TOKEN)[1] == {"orgs": orgs}, timeout=90, what="all orgs"
    )
    for w in pair:
        assert call(w, "/health")[0] == 200
        assert call(w, "/ready")[0] == 200
        protected = ["/orgs", "/benchmarks", "/metrics", "/", f"/orgs/{orgs[0]}/score"]
        for path in protected:
            status, body, headers = call(w, path)
            assert (status, body) == (401, unauthorized("missing bearer token")), path
            assert headers["WWW-Authenticate"].startswith("Bearer ")
            status, body, _ = call(w, path, "wrong-" + TOKEN)
            assert (status, body) == (401, unauthorized("invalid bearer token")), path
        # with the token: the peer listing, and every org from either worker (so half of
        # them forwarded to the other worker, the token with them)
        assert call(w, "/orgs", TOKEN)[1] == {"orgs": orgs}
        assert "engagement_events_processed_total" in call(w, "/metrics", TOKEN)[1]
        for org in orgs:
            wait_until(
                lambda w=w, o=org: (
                    (r := call(w, f"/orgs/{o}/score", TOKEN))[0] == 200
                    and figures(r[1]) == figures(expected[o])
                ),
                timeout=30,
                what=f"{org} from {w.url}",
            )
            assert call(w, f"/orgs/{org}/level", TOKEN)[0] == 200
            assert call(w, f"/orgs/{org}/alerts", TOKEN)[0] == 200
            assert call(w, f"/orgs/{org}/alerts")[0] == 401

    for w in pair:
        text = log_text(w)
        assert TOKEN not in text
        settings_lines = [
            json.loads(line)
            for line in text.splitlines()
            if line.startswith("{") and '"worker settings"' in line
        ]
        assert settings_lines, "the worker logs its settings at start"
        assert settings_lines[0]["settings"]["api_token"] == "**********"
    assert '"level": "debug"' in log_text(second)  # the debug worker did log at debug


async def test_sasl_password_never_logged_when_the_connection_fails(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    worker = Worker(
        "sasl-" + created_topics.prefix,
        created_topics,
        tmp_path,
        extra_env={
            "ENGAGEMENT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ENGAGEMENT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "ENGAGEMENT_KAFKA_SASL_USERNAME": "scorer",
            "ENGAGEMENT_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
            "ENGAGEMENT_KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
            "ENGAGEMENT_API_TOKEN": TOKEN,
            "ENGAGEMENT_LOG_LEVEL": "debug",
        },
    ).start()
    workers.append(worker)
    # the broker speaks plaintext: the TLS handshake fails and the worker gives up
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.proc is not None and worker.proc.poll() is None:
        with contextlib.suppress(OSError, ValueError):
            assert worker.get("/ready")[0] != 200, "connected through SASL_SSL to plaintext?"
        await asyncio.sleep(1)
    worker.kill()
    text = log_text(worker)
    assert len(text.splitlines()) > 3, text  # it did explain itself
    for secret in (SASL_PASSWORD, KEY_PASSWORD, TOKEN):
        assert secret not in text
