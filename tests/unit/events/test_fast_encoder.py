"""The fast encoder (simulator, benchmark) is byte for byte the SDK path for every input type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.events import encode_event, topics
from engagement.events.fast import (
    _outputs_match,
    encode_binary,
    encode_output,
    fast_path_matches,
    utc_text,
)
from engagement.events.models import (
    OUTPUT_TYPES,
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


def _example(type_: str) -> object:
    model = OUTPUT_TYPES[type_]
    return model.model_validate(model.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


_TEXT = st.text(min_size=1, max_size=40)


@given(
    type_=st.sampled_from(sorted(OUTPUT_TYPES)),
    source=_TEXT,
    id_=_TEXT,
    subject=st.none() | st.just("") | _TEXT,
    dataschema=st.none() | st.just("") | _TEXT,
    key=st.none() | _TEXT,
    t=st.integers(min_value=-62_135_596_800 + 86_400, max_value=253_402_300_799 - 86_400),
    micro=st.sampled_from((0, 0, 0, 1, 999_999)),
    offset_minutes=st.integers(min_value=-23 * 60, max_value=23 * 60),
)
def test_an_output_record_equals_the_sdk_record(
    type_: str,
    source: str,
    id_: str,
    subject: str | None,
    dataschema: str | None,
    key: str | None,
    t: int,
    micro: int,
    offset_minutes: int,
) -> None:
    """Whatever the attributes and the time (any offset; whole seconds take the fast path,
    the rest the SDK), ``encode_output`` is ``encode_event`` byte for byte."""
    zone = timezone(timedelta(minutes=offset_minutes))
    moment = datetime.fromtimestamp(t, UTC).replace(microsecond=micro).astimezone(zone)
    args = {
        "type": type_,
        "source": source,
        "id": id_,
        "time": moment,
        "subject": subject,
        "data": _example(type_),
        "key": key,
        "dataschema": dataschema,
    }
    assert encode_output(**args) == encode_event(**args)  # type: ignore[arg-type]


def test_the_output_fast_path_is_on_and_checks_the_payload_type() -> None:
    assert _outputs_match()  # the SDK in use writes what the fast path writes
    with pytest.raises(TypeError):
        encode_output(
            type=topics.ALERT_TYPE,
            source="urn:s",
            id="i",
            time=datetime(2026, 1, 1, tzinfo=UTC),
            subject=None,
            data=_example(topics.SCORE_UPDATED_TYPE),  # type: ignore[arg-type]
            key="o",
        )
