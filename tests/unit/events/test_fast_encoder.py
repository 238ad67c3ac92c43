"""The fast encoder (simulator, benchmark) is byte for byte the SDK path for every input type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.events import encode_event, topics
from engagement.events.fast import encode_binary, fast_path_matches, utc_text
from engagement.events.models import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    Visit,
)

SAMPLES = (
    (topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id="o", account_id="a", kind="guest")),
    (topics.ACCOUNT_DELETED_TYPE, AccountDeleted(org_id="o", account_id="a")),
    (topics.VISIT_TYPE, Visit(org_id="o", account_id="a", client="web")),
    (
        topics.CONTENT_PUBLISHED_TYPE,
        ContentPublished(
            org_id="o", account_id="a", content_id="m1", content_type="message", audience=12
        ),
    ),
    (
        topics.CONTENT_VIEWED_TYPE,
        ContentViewed(org_id="o", account_id="a", content_id="m1", content_type="message"),
    ),
)


@pytest.mark.parametrize(("type_", "data"), SAMPLES, ids=[t for t, _ in SAMPLES])
def test_fast_record_equals_the_sdk_record(type_: str, data: object) -> None:
    t = 1_767_225_599  # 2025-12-31T23:59:59Z
    fast = encode_binary(type_, "urn:s", "id-1", t, data.model_dump_json().encode(), "org-1")  # type: ignore[attr-defined]
    sdk = encode_event(
        type=type_,
        source="urn:s",
        id="id-1",
        time=datetime.fromtimestamp(t, UTC),
        subject=None,
        data=data,  # type: ignore[arg-type]
        key="org-1",
    )
    assert fast == sdk


def test_fast_path_check_reports_the_samples_equal() -> None:
    assert fast_path_matches(SAMPLES)


@given(st.integers(min_value=0, max_value=253_402_300_799))
def test_utc_text_is_rfc3339_of_the_second(t: int) -> None:
    assert utc_text(t).decode() == datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
