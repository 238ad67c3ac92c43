"""Reliability against the real broker: failover, a broker outage, and bad input at volume.

- Scale-out and failover: two workers of one group share the input; one is killed with SIGKILL
  mid-stream; the survivor takes its partitions over from its standby replicas (it replays
  only the tail of the changelogs, not from offset 0) and every organisation's figures equal
  the batch recomputation. The output topics, read to their end, show what a consumer sees:
  replayed events carry the ids of the originals (an id is a function of the event's
  content), deduplicating by id then keeping each organisation's latest event gives the batch
  figures, and every (organisation, month) is closed exactly once with the batch's figures.
  The killed worker rejoins, answers for its share with the batch figures and re-emits.
- Broker outage: the worker's own broker is stopped for 30 s mid-stream (records still
  unconsumed) and started again (data kept); the worker recovers on its own, the figures
  still equal the batch and it consumed exactly the log.
- Bad input at volume: hypothesis-generated random bytes, truncated and mutated CloudEvents,
  wrong types and huge values mixed into a valid log, then late events and events of deleted
  accounts; the worker never stops, every input record is either processed or dead-lettered
  (exactly, per reason), late and after-deletion events are counted exactly, the DLQ topic
  holds exactly the dead-lettered records (per reason), and the figures equal the batch over
  the accepted input.

docs/reliability.md says what each test shows and what it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from engagement.events import (
    DEAD_LETTER_REASON_HEADER,
    INPUT_TYPES,
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    DeadLetterReason,
    Interaction,
    KafkaRecord,
    MonthClosed,
    OrgProfile,
    RejectedEvent,
    ScoreUpdated,
    Visit,
    decode_activity,
    decode_org_profile,
    decode_output,
    encode_event,
)
from engagement.events import topics as contract_topics
from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_scorer.publish import figures_digest, score_record
from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import (
    BOOTSTRAP,
    REPO,
    Topics,
    Worker,
    assert_months_equal_batch,
    consume_to_end,
    create_topics,
    produce,
    unique_prefix,
    wait_until,
)

pytestmark = pytest.mark.kafka

END = TEST_NOW - timedelta(hours=1)
RULES = Settings().scoring_rules()
SOURCE = Settings().output_source
#: Faust reads these from the environment (they override the app's arguments): a killed
#: worker's partitions move after 10 s instead of the default 60 s session timeout.
FAST_FAILOVER = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}


# ------------------------------------------------------------------------------------------------
# Kafka helpers that take the bootstrap address (the outage test has its own broker)
# ------------------------------------------------------------------------------------------------


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    # A consumer knows a topic's partitions once subscribed to it (not from topics()).
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
    finally:
        await consumer.stop()


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float, what: str, interval: float = 1.0
) -> Any:
    """Await ``check()`` until it returns something true (or fail at the timeout)."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


async def topic_size(bootstrap: str, topic: str) -> int:
    tps = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


# ------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------


def comparable(score: dict[str, Any]) -> dict[str, Any]:
    """Everything a score says as exact integers, without the moment (after a takeover an
    organisation's as_of may step back within its day until its next event)."""
    return {
        "window": (str(score["window_start"]), str(score["window_end"])),
        "components": {
            k: (v["numerator"], v["denominator"]) for k, v in score["components"].items()
        },
        "month_to_date": {
            k: (v["numerator"], v["denominator"]) for k, v in score["month_to_date"].items()
        },
        "score": score["engagement_score"],
    }


def batch_figures(
    activity: list[KafkaRecord], profiles: list[KafkaRecord]
) -> dict[str, dict[str, Any]]:
    result = recompute(activity, RULES, timezones_from(profiles))
    return {org: comparable(score) for org, score in result.scores.items()}


def api_figures(worker: Worker, orgs: Iterable[str]) -> dict[str, Any]:
    got = {}
    for org in orgs:
        with contextlib.suppress(OSError, ValueError):
            status, body = worker.get(f"/orgs/{org}/score")
            if status == 200:
                got[org] = comparable(body)
    return got


def assert_api_equals(worker: Worker, expected: dict[str, Any], timeout: float = 120) -> None:
    try:
        wait_until(
            lambda: api_figures(worker, expected) == expected,
            timeout=timeout,
            interval=1.0,
            what="API figures = batch",
        )
    finally:
        got = api_figures(worker, expected)
        differ = {o: (got.get(o), e) for o, e in expected.items() if got.get(o) != e}
        example = next(iter(differ.items()), None)
        assert not differ, f"{len(differ)} orgs differ, e.g. {example}\n{worker.diagnostics()}"


def processed(worker: Worker) -> float:
    """Activity records consumed: applied (any activity type) plus dead-lettered."""
    with contextlib.suppress(OSError, ValueError):
        applied = worker.counter("engagement_events_processed_total") - worker.counter(
            "engagement_events_processed_total", type="intranet.org.profile.v1"
        )
        return applied + worker.counter("engagement_events_dead_lettered_total")
    return -1.0


def profiles_applied(*workers: Worker) -> float:
    total = 0.0
    for w in workers:
        with contextlib.suppress(OSError, ValueError):
            total += w.counter("engagement_events_processed_total", type="intranet.org.profile.v1")
    return total


def owned(worker: Worker) -> set[str]:
    with contextlib.suppress(OSError, ValueError):
        status, body = worker.get("/orgs?local=1")
        if status == 200:
            return set(body["orgs"])
    return set()


def alive(worker: Worker) -> bool:
    return worker.proc is not None and worker.proc.poll() is None


def say(text: str) -> None:
    print(f"[reliability] {text}", flush=True)


# ------------------------------------------------------------------------------------------------
# 1. scale-out and failover
# ------------------------------------------------------------------------------------------------

FAILOVER_LOG = generate(
    seed=101, orgs=12, days=35, end=END, duplicates=0.03, disorder=0.05, accounts_per_org=(8, 25)
)


def check_output_ids(scores: list[Any], monthly: list[Any]) -> dict[str, Any]:
    """Ids are a function of content: equal content -> one id, one id -> one content.

    Score events are re-encoded from their decoded payload with the service's own encoder:
    the record (id included) must come out byte-identical, so a replay of the same figures at
    the same as_of can only ever produce the same id. Returns each organisation's latest score
    payload after deduplication by id (what an idempotent consumer ends up with).
    """
    latest: dict[str, dict[str, Any]] = {}
    content_of: dict[str, bytes] = {}
    replayed = stepped_back = 0
    last: dict[str, ScoreUpdated] = {}
    for m in scores:
        event = decode_output(m.key, m.value, m.headers)
        payload = event.data
        assert isinstance(payload, ScoreUpdated)
        again = score_record(payload, SOURCE, figures_digest(payload))
        assert dict(again.headers)["ce_id"] == dict(m.headers)["ce_id"] == event.id.encode()
        assert again.value == m.value
        assert again.headers == list(m.headers)
        previous = last.get(payload.org_id)
        if previous is not None and payload.as_of < previous.as_of:
            stepped_back += 1  # re-emitted after a takeover at the org's persisted clock
        last[payload.org_id] = payload
        if event.id in content_of:
            assert content_of[event.id] == m.value, f"id {event.id} carries different data"
            replayed += 1
            continue
        content_of[event.id] = m.value
        latest[payload.org_id] = payload.model_dump(mode="json")

    month_ids: dict[tuple[str, str], set[str]] = {}
    month_content: dict[str, bytes] = {}
    month_replayed = 0
    for m in monthly:
        event = decode_output(m.key, m.value, m.headers)
        closed = event.data
        assert isinstance(closed, MonthClosed)
        assert event.type == contract_topics.MONTH_CLOSED_TYPE
        month_ids.setdefault((closed.org_id, closed.month), set()).add(event.id)
        if event.id in month_content:
            month_replayed += 1
        assert month_content.setdefault(event.id, m.value) == m.value, "one id, two contents"
    several = {k: v for k, v in month_ids.items() if len(v) != 1}
    assert not several, f"months closed with different ids: {several}"
    say(
        f"outputs: {len(scores)} score events ({replayed} replayed duplicates, "
        f"{stepped_back} with an earlier as_of than the org's previous one), "
        f"{len(monthly)} month closes of {len(month_ids)} months ({month_replayed} replayed)"
    )
    return {"latest": latest, "months": month_ids}


#: One row of a table Faust's recovery logs: | topic | partition | offset |; "〃" repeats the
#: topic of the row above.
_RECOVERY_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*(\d+)\s*\|\s*(-?\d+)\s*\|$")


def recovery_tables(log_text: str) -> list[tuple[str, dict[tuple[str, int], int]]]:
    """Faust's active-recovery tables in log order: ("highwater", {changelog partition: last
    offset}) and ("start", {changelog partition: offset reading starts after}) - -1 there
    means a replay from the partition's first offset."""
    out = []
    for line in log_text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = str(json.loads(line)["event"])
        except (ValueError, KeyError, TypeError):
            continue
        if "Highwater for active changelog partitions" in event:
            kind = "highwater"
        elif "active offsets at start of reading" in event:
            kind = "start"
        else:
            continue
        rows: dict[tuple[str, int], int] = {}
        topic = ""
        for row in event.splitlines():
            match = _RECOVERY_ROW.match(row.strip())
            if match:
                name, partition, offset = match.groups()
                topic = topic if name == "\u3003" else name
                rows[(topic, int(partition))] = int(offset)
        out.append((kind, rows))
    return out


def takeover_replay(log_text: str, mark: int) -> tuple[int, int, int] | None:
    """What the survivor read from the changelogs when it took over (its log after byte
    ``mark``): (changelog partitions taken over, records replayed, records they hold).

    The partitions taken over are those active in the first recovery after the kill that
    were not active before it. None until that recovery is in the log."""
    before = [rows for kind, rows in recovery_tables(log_text[:mark]) if kind == "start"]
    was_active = set(before[-1]) if before else set()
    highwater: dict[tuple[str, int], int] = {}
    for kind, rows in recovery_tables(log_text[mark:]):
        if kind == "highwater":
            highwater = rows
            continue
        taken = [tp for tp in rows if tp not in was_active and highwater.get(tp, -1) >= 0]
        if not taken:
            continue
        replayed = sum(highwater[tp] - rows[tp] for tp in taken)
        held = sum(highwater[tp] + 1 for tp in taken)
        return len(taken), replayed, held
    return None


async def test_scale_out_and_failover_after_sigkill(workers: list[Worker], tmp_path: Path) -> None:
    log = FAILOVER_LOG
    batch = recompute(log.activity, RULES, timezones_from(log.profiles))
    expected = {org: comparable(score) for org, score in batch.scores.items()}
    assert set(batch.closed_months) == set(expected)  # every org closes a month in the log
    topics = Topics(unique_prefix())
    await create_topics(topics.all(), bootstrap=BOOTSTRAP)
    # RocksDB: Faust's memory store forgets the offsets its standby reached (its
    # persisted_offset is always None), so only a persistent store takes over from a standby
    env = {"ENGAGEMENT_STANDBY_REPLICAS": "1", "ENGAGEMENT_STORE": "rocksdb://", **FAST_FAILOVER}
    app_id = "fo-" + topics.prefix
    first = Worker(app_id, topics, tmp_path, extra_env=env).start()
    workers.append(first)
    first.wait_ready()
    second = Worker(app_id, topics, tmp_path, extra_env=env).start()
    workers.append(second)
    second.wait_ready()
    first.wait_ready()

    await produce(topics.profiles, log.profiles, bootstrap=BOOTSTRAP)
    wait_until(lambda: profiles_applied(first, second) >= len(log.profiles), what="profiles")
    # Most of the log first; the rest right after the kill, so the kill is always mid-stream
    # however fast the workers read (the data plane reads these 11k records in about a second).
    total = len(log.activity)
    head = int(0.7 * total)
    await produce(topics.activity, log.activity[:head], bootstrap=BOOTSTRAP)
    # scale-out: both workers consume; kill one mid-stream
    wait_until(
        lambda: (
            min(processed(first), processed(second)) > 0
            and processed(first) + processed(second) >= 0.4 * total
        ),
        timeout=120,
        what="both workers consuming, 40% done",
    )
    victim_share = owned(second)
    assert victim_share, "the second worker owned no organisation before the kill"
    assert owned(first), "the first worker owned no organisation before the kill"
    mark = first.log_path.stat().st_size  # the survivor's log from here on: the takeover
    done_at_kill = processed(first) + processed(second)
    second.kill()
    await produce(topics.activity, log.activity[head:], bootstrap=BOOTSTRAP)
    assert done_at_kill < total, "the stream was over before the kill"
    killed_at = time.monotonic()
    say(f"killed one worker at {done_at_kill:.0f}/{total} records; it owned {len(victim_share)}")

    wait_until(lambda: owned(first) >= set(expected), timeout=90, what="survivor owns every org")
    say(f"survivor owns every organisation {time.monotonic() - killed_at:.1f} s after the kill")
    assert_api_equals(first, expected)
    say(f"figures = batch {time.monotonic() - killed_at:.1f} s after the kill")
    assert alive(first), first.tail()

    # The standby replicas were used. Faust logs, per recovery, each changelog partition's
    # last offset and the offset its reading starts at. For the partitions the survivor took
    # over, a standby copy (kept up to date while the other worker was alive) means reading
    # starts near the end: it replays only the tail. Without one (standby_replicas=0, or a
    # standby whose position is lost) reading starts at -1, i.e. every record of those
    # changelogs is replayed from offset 0, and this fails.
    replay = wait_until(
        lambda: takeover_replay(first.log_path.read_text(errors="replace"), mark),
        timeout=30,
        what="the takeover's recovery in the survivor's log",
    )
    taken, replayed, held = replay
    say(f"takeover: {taken} changelog partitions, replayed {replayed} of their {held} records")
    assert held > 0
    assert replayed <= 0.2 * held, (
        f"the takeover replayed {replayed} of {held} changelog records: not from the standby"
    )

    # what consumers of the outputs see
    async def consumers_view(settle: float = 0.0) -> dict[str, Any] | None:
        scores = await consume_to_end(topics.scores, settle=settle)
        # the same worker publishes both: once the scores have settled, so have the months
        monthly = await consume_to_end(topics.monthly, settle=0.0)
        outcome = check_output_ids(scores, monthly)
        latest = {org: comparable(p) for org, p in outcome["latest"].items()}
        if {o: latest.get(o) for o in expected} != expected:
            return None
        return {"latest": latest, "months": outcome["months"], "monthly": monthly}

    await eventually(
        consumers_view, within=60, interval=2.0, what="deduplicated latest score per org = batch"
    )
    # the whole monthly topic, once settled: one close per (org, month), the batch's figures
    view = await consumers_view(settle=1.0)
    assert view is not None, "the latest scores changed after they equalled the batch"
    months = assert_months_equal_batch(view["monthly"], batch.closed_months)
    say(f"{months} month closes, one per (org, month), equal to the batch")

    # scale out again: the killed worker comes back, takes a share back, rebuilds its state
    # from the changelogs and re-emits its organisations' figures
    before = await topic_size(BOOTSTRAP, topics.scores)
    second.start()
    second.wait_ready()
    first.wait_ready()
    wait_until(lambda: owned(second) and owned(first), timeout=60, what="both own orgs again")
    rejoined = owned(second)
    # its own figures, not the survivor's: it answers locally for the orgs it owns
    assert_api_equals(second, {o: expected[o] for o in rejoined}, timeout=60)
    assert owned(second) == rejoined, "the rejoined worker's share moved during the check"
    # a fresh process: its counter is what it emitted since it rejoined
    emitted = wait_until(
        lambda: second.counter("engagement_outputs_emitted_total", topic=topics.scores),
        timeout=30,
        what="score events emitted by the rejoined worker",
    )
    say(f"rejoined worker owns {len(rejoined)} orgs, figures = batch, emitted {emitted:.0f}")

    async def re_emitted() -> dict[str, Any] | None:
        if await topic_size(BOOTSTRAP, topics.scores) <= before:
            return None
        return await consumers_view()

    await eventually(re_emitted, within=60, interval=2.0, what="after the rejoin: latest = batch")
    view = await consumers_view(settle=1.0)
    assert view is not None, "after the rejoin the latest scores left the batch figures"
    assert_months_equal_batch(view["monthly"], batch.closed_months)


ROUTING_LOG = generate(seed=404, orgs=12, days=3, end=END, accounts_per_org=(8, 25))


async def test_every_worker_answers_for_every_org(workers: list[Worker], tmp_path: Path) -> None:
    """Scale-out as documented: "any worker can be asked" (requests are routed to the owner)."""
    log = ROUTING_LOG
    expected = batch_figures(log.activity, log.profiles)
    topics = Topics(unique_prefix())
    await create_topics(topics.all(), bootstrap=BOOTSTRAP)
    app_id = "route-" + topics.prefix
    pair = [Worker(app_id, topics, tmp_path).start(), Worker(app_id, topics, tmp_path).start()]
    workers.extend(pair)
    for w in (*pair, *pair):
        w.wait_ready()
    await produce(topics.profiles, log.profiles, bootstrap=BOOTSTRAP)
    await produce(topics.activity, log.activity, bootstrap=BOOTSTRAP)
    wait_until(
        lambda: sum(processed(w) for w in pair) >= len(log.activity), timeout=90, what="consumed"
    )
    shares = [owned(w) for w in pair]
    assert all(shares), f"each worker owns organisations: {shares}"
    assert shares[0] | shares[1] == set(expected)
    for w in pair:
        assert w.get("/orgs")[1] == {"orgs": sorted(expected)}
        assert_api_equals(w, expected, timeout=30)


# ------------------------------------------------------------------------------------------------
# 2. broker outage
# ------------------------------------------------------------------------------------------------

#: Below Linux's ephemeral range (32768-60999): while the broker is down the worker keeps
#: reconnecting, and a port inside that range can be taken by one of its own outgoing sockets
#: (a TCP self-connect), so the broker could not bind it again.
OUTAGE_PORT = int(os.environ.get("RELIABILITY_KAFKA_PORT", "29092"))
OUTAGE_CONTROLLER_PORT = OUTAGE_PORT + 1
OUTAGE_SECONDS = 30
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"


class OwnKafka:
    """A private broker (deploy/kafka/kafka.sh with its own port and directory)."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "kafka"
        self.dir.mkdir()
        shared_libs = Path(os.environ.get("KAFKA_DIR", REPO / ".kafka")) / "libs"
        if shared_libs.is_dir():  # reuse the fetched jars instead of running Maven again
            (self.dir / "libs").symlink_to(shared_libs.resolve())
        self.bootstrap = f"127.0.0.1:{OUTAGE_PORT}"

    def _run(self, command: str, keep_data: bool = False) -> float:
        env = dict(os.environ)
        env.update(
            KAFKA_PORT=str(OUTAGE_PORT),
            KAFKA_CONTROLLER_PORT=str(OUTAGE_CONTROLLER_PORT),
            KAFKA_DIR=str(self.dir),
            KAFKA_KEEP_DATA="1" if keep_data else "0",
            KAFKA_HEAP="384m",
        )
        t0 = time.monotonic()
        done = subprocess.run(
            ["bash", str(KAFKA_SH), command], env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"kafka.sh {command} failed:\n{done.stdout}\n{done.stderr}"
        return time.monotonic() - t0

    def start(self, keep_data: bool = False) -> float:
        return self._run("start", keep_data)

    def stop(self) -> float:
        return self._run("stop")


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[OwnKafka]:
    if shutil.which("java") is None:
        pytest.fail("java is needed for the private broker of the outage test", pytrace=False)
    kafka = OwnKafka(tmp_path)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


OUTAGE_LOG = generate(
    seed=202, orgs=10, days=35, end=END, duplicates=0.03, disorder=0.05, accounts_per_org=(8, 25)
)


async def test_worker_rides_out_a_30s_broker_outage(
    own_kafka: OwnKafka, workers: list[Worker], tmp_path: Path
) -> None:
    log = OUTAGE_LOG
    expected = batch_figures(log.activity, log.profiles)
    bootstrap = own_kafka.bootstrap
    topics = Topics(unique_prefix())
    await create_topics(topics.all(), bootstrap=bootstrap)
    worker = Worker(
        "outage-" + topics.prefix,
        topics,
        tmp_path,
        extra_env={"ENGAGEMENT_KAFKA_BOOTSTRAP": bootstrap},
    ).start()
    workers.append(worker)
    worker.wait_ready()
    await produce(topics.profiles, log.profiles, bootstrap=bootstrap)
    wait_until(lambda: profiles_applied(worker) >= len(log.profiles), what="profiles")

    # part of the log before the outage, the rest only after it: mid-stream by construction
    cut = int(len(log.activity) * 0.6)
    await produce(topics.activity, log.activity[:cut], bootstrap=bootstrap)
    wait_until(lambda: processed(worker) >= 0.3 * cut, timeout=120, what="30% consumed")
    at_stop = processed(worker)
    # the worker was reading when the broker went away; the rest of the log comes after the
    # outage (the data plane may have read all of the first part by now)
    assert 0 < at_stop <= cut, f"{at_stop} of the {cut} records produced were consumed"
    stop_seconds = own_kafka.stop()
    down_at = time.monotonic()
    at_outage = processed(worker)
    assert at_outage < len(log.activity)  # the rest can only be consumed after the outage
    say(
        f"broker stopped ({stop_seconds:.1f} s) from {at_stop:.0f}/{cut} produced records "
        f"consumed, at {at_outage:.0f}/{len(log.activity)}"
    )
    while time.monotonic() - down_at < OUTAGE_SECONDS:
        assert alive(worker), worker.tail()
        status, _ = worker.get("/health")
        assert status == 200  # the process stays up and answers
        await asyncio.sleep(2)
    start_seconds = own_kafka.start(keep_data=True)
    up_at = time.monotonic()
    say(f"broker down {up_at - down_at:.1f} s, back after {start_seconds:.1f} s start-up")

    await produce(topics.activity, log.activity[cut:], bootstrap=bootstrap)
    wait_until(lambda: processed(worker) >= len(log.activity), timeout=150, what="all consumed")
    assert_api_equals(worker, expected)
    say(f"figures = batch {time.monotonic() - up_at:.1f} s after the broker came back")
    worker.wait_ready(timeout=30)
    assert alive(worker), worker.tail()
    # exactly the log: nothing lost, and nothing replayed (the offsets committed before the
    # outage stayed valid), as docs/reliability.md says
    consumed = processed(worker)
    say(f"records consumed: {consumed:.0f} for a log of {len(log.activity)}")
    assert consumed == len(log.activity)


# ------------------------------------------------------------------------------------------------
# 3. bad input at volume
# ------------------------------------------------------------------------------------------------

FUZZ_LOG = generate(
    seed=303, orgs=8, days=20, end=END, duplicates=0.02, disorder=0.05, accounts_per_org=(8, 25)
)
FUZZ_BATCHES = 400
VALID = FUZZ_LOG.activity
ORGS = FUZZ_LOG.org_ids

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["", "x" * 5000, "\u0000", "\ud800", "9999-12-31T23:59:59Z"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = ["org_id", "account_id", "content_id", "content_type", "kind", "activated_at",
          "audience_size", "client"]  # fmt: skip


def _headers(record: KafkaRecord) -> dict[str, bytes]:
    return dict(record.headers)


@st.composite
def random_bytes(draw: st.DrawFn) -> KafkaRecord:
    headers = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["ce_type", "ce_id", "content-type", "ce_specversion", "x"]),
                st.binary(max_size=30),
            ),
            max_size=4,
        )
    )
    key = draw(st.one_of(st.none(), st.binary(max_size=12), st.sampled_from(ORGS).map(str.encode)))
    return KafkaRecord(key, draw(st.binary(max_size=400)), headers)


@st.composite
def truncated(draw: st.DrawFn) -> KafkaRecord:
    r = VALID[draw(st.integers(0, len(VALID) - 1))]
    cut = draw(st.integers(0, max(0, len(r.value) - 1)))
    return KafkaRecord(r.key, r.value[:cut], r.headers)


@st.composite
def byte_flips(draw: st.DrawFn) -> KafkaRecord:
    r = VALID[draw(st.integers(0, len(VALID) - 1))]
    value = bytearray(r.value)
    for _ in range(draw(st.integers(1, 4))):
        value[draw(st.integers(0, len(value) - 1))] = draw(st.integers(0, 255))
    return KafkaRecord(r.key, bytes(value), r.headers)


@st.composite
def header_mutations(draw: st.DrawFn) -> KafkaRecord:
    r = VALID[draw(st.integers(0, len(VALID) - 1))]
    headers = _headers(r)
    name = draw(st.sampled_from(sorted(headers)))
    action = draw(st.sampled_from(["drop", "type", "garbage", "time"]))
    if action == "drop":
        del headers[name]
    elif action == "type":  # a valid type for the wrong data
        headers["ce_type"] = draw(st.sampled_from(sorted(INPUT_TYPES))).encode()
    elif action == "garbage":
        headers[name] = draw(st.binary(max_size=20))
    else:
        headers["ce_time"] = draw(
            st.sampled_from([b"0001-01-01T00:00:00Z", b"9999-12-31T23:59:59Z", b"yesterday",
                             b"2020-02-30T00:00:00Z", b"1999-01-01T00:00:00+25:00"])
        )  # fmt: skip
    key = draw(st.one_of(st.just(r.key), st.none(), st.binary(max_size=6)))
    return KafkaRecord(key, r.value, list(headers.items()))


@st.composite
def wrong_data(draw: st.DrawFn) -> KafkaRecord:
    """A valid envelope whose data has fields of the wrong type, huge or missing values."""
    r = VALID[draw(st.integers(0, len(VALID) - 1))]
    headers = _headers(r)
    structured = headers.get("content-type", b"").startswith(b"application/cloudevents")
    document = json.loads(r.value)
    data = document["data"] if structured else document
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
        if draw(st.booleans()):
            data[name] = draw(json_values)
        else:
            data.pop(name, None)
    value = json.dumps(document).encode("utf-8", "surrogatepass")
    return KafkaRecord(r.key, value, list(headers.items()))


@st.composite
def huge(draw: st.DrawFn) -> KafkaRecord:
    r = VALID[draw(st.integers(0, len(VALID) - 1))]
    kind = draw(st.sampled_from(["oversized", "digits", "nested", "long_id"]))
    if kind == "oversized":  # over max_event_bytes, under the broker's 1 MB
        value = b'{"pad": "' + b"x" * draw(st.integers(270_000, 400_000)) + b'"}'
    elif kind == "digits":  # beyond Python's int parsing limit
        value = b'{"org_id": ' + b"9" * draw(st.integers(4_400, 20_000)) + b"}"
    elif kind == "nested":
        depth = draw(st.integers(2_000, 50_000))
        value = b"[" * depth + b"]" * depth
    else:
        document = json.loads(r.value)
        data = document.get("data", document)
        data["account_id"] = "a" * draw(st.integers(10_000, 200_000))
        value = json.dumps(document).encode()
    return KafkaRecord(r.key, value, r.headers)


bad_record = st.one_of(random_bytes(), truncated(), byte_flips(), header_mutations(),
                       wrong_data(), huge())  # fmt: skip


def fuzz_records() -> list[KafkaRecord]:
    """Hypothesis-generated bad records: a fixed sequence (seeded), plus null values."""
    out: list[KafkaRecord] = []

    @seed(303)
    @settings(
        max_examples=FUZZ_BATCHES,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(bad_record, min_size=1, max_size=12))
    def collect(batch: list[KafkaRecord]) -> None:
        out.extend(batch)

    collect()
    out.extend(KafkaRecord(org.encode(), None, []) for org in ORGS[:3])  # type: ignore[arg-type]
    return out


def edge_records() -> list[KafkaRecord]:
    """Values at the limits, which random generation finds only by luck."""
    zones = {}
    for r in FUZZ_LOG.profiles:
        profile = decode_org_profile(r.key, r.value, r.headers, now=None).data
        assert isinstance(profile, OrgProfile)
        zones[profile.timezone] = profile.org_id
    west, east = zones["America/New_York"], zones["Asia/Tokyo"]
    recent = END - timedelta(hours=2)
    year_1 = datetime(1, 1, 1, tzinfo=UTC)

    def ev(type_: str, data: Any, at: datetime) -> KafkaRecord:
        return fuzz_record(type_, data, at, f"edge-{type_}-{at.isoformat()}-{len(str(data))}")

    retyped = ev(contract_topics.VISIT_TYPE, Visit(org_id=east, account_id="edge-6"), recent)
    return [
        # a type nobody defined on an otherwise valid event, and an event a day ahead of now:
        # random mutations reach these reasons only by luck
        KafkaRecord(
            retyped.key,
            retyped.value,
            [(k, b"intranet.unknown.v1" if k == "ce_type" else v) for k, v in retyped.headers],
        ),
        ev(
            contract_topics.VISIT_TYPE,
            Visit(org_id=west, account_id="edge-7"),
            TEST_NOW + timedelta(days=1),
        ),
        # a local date before year 1 in a zone west of UTC
        ev(contract_topics.VISIT_TYPE, Visit(org_id=west, account_id="edge-1"), year_1),
        ev(
            contract_topics.ACCOUNT_CREATED_TYPE,
            AccountCreated.model_construct(  # unvalidated: a producer's model may differ
                org_id=west, account_id="edge-2", kind="member", activated_at=year_1
            ),
            recent,
        ),
        # after year 9999 locally, east of UTC (the future-time check must catch it)
        ev(
            contract_topics.VISIT_TYPE,
            Visit(org_id=east, account_id="edge-3"),
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
        # before the epoch
        ev(
            contract_topics.VISIT_TYPE,
            Visit(org_id=east, account_id="edge-4"),
            datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
        # huge but valid values
        ev(
            contract_topics.CONTENT_PUBLISHED_TYPE,
            ContentPublished(
                org_id=east,
                account_id="edge-5",
                content_id="edge-message",
                content_type="message",
                audience_size=10**30,
            ),
            recent,
        ),
        ev(contract_topics.VISIT_TYPE, Visit(org_id=east, account_id="a" * 100_000), recent),
    ]


def expected_outcome(
    records: list[KafkaRecord], now: datetime
) -> tuple[Counter[str], list[KafkaRecord]]:
    """Dead letters by reason and the accepted records, decided as the worker decides."""
    s = Settings()
    reasons: Counter[str] = Counter()
    accepted = []
    for r in records:
        try:
            decode_activity(
                r.key,
                r.value,
                r.headers,
                now=now,
                max_future=timedelta(seconds=s.max_future_seconds),
                max_value_bytes=s.max_event_bytes,
            )
        except RejectedEvent as exc:
            reasons[exc.reason.value] += 1
            continue
        accepted.append(r)
    return reasons, accepted


#: Late events: more than every window (30 days) old, in a month the organisation's stream time
#: has closed (checked against the batch below), produced once the log is consumed.
LATE_EVENTS = 10
#: Accounts created and deleted after the log; then AFTER_DELETION events of theirs, each later
#: than the deletion, produced once the deletion is consumed.
DELETED_ACCOUNTS = 3
AFTER_DELETION_EVENTS = 3 * DELETED_ACCOUNTS


def fuzz_record(type_: str, data: Any, at: datetime, id_: str) -> KafkaRecord:
    """One well-formed input record of the fuzz test, keyed by its organisation."""
    return encode_event(
        type=type_,
        source="urn:fuzz",
        id=id_,
        time=at,
        subject=data.org_id,
        data=data,
        key=data.org_id,
    )


def _extra(type_: str, data: Any, at: datetime, n: int) -> KafkaRecord:
    return fuzz_record(type_, data, at, f"fuzz-extra-{n}")


def late_records() -> list[KafkaRecord]:
    at = END - timedelta(days=40)  # its month ended before the log's last month began
    return [
        _extra(
            contract_topics.VISIT_TYPE,
            Visit(org_id=ORGS[i % len(ORGS)], account_id=f"late-{i}"),
            at + timedelta(minutes=i),
            i,
        )
        for i in range(LATE_EVENTS)
    ]


def deletion_records() -> list[KafkaRecord]:
    out = []
    for i in range(DELETED_ACCOUNTS):
        org, account = ORGS[i], f"gone-{i}"
        out.append(
            _extra(
                contract_topics.ACCOUNT_CREATED_TYPE,
                AccountCreated(
                    org_id=org, account_id=account, activated_at=END - timedelta(days=3)
                ),
                END - timedelta(days=2),
                100 + i,
            )
        )
        out.append(
            _extra(
                contract_topics.ACCOUNT_DELETED_TYPE,
                AccountDeleted(org_id=org, account_id=account),
                END + timedelta(minutes=10),
                200 + i,
            )
        )
    return out


def after_deletion_records() -> list[KafkaRecord]:
    """Events of the deleted accounts, all later than their deletion (END + 10 min)."""
    out = []
    for i in range(DELETED_ACCOUNTS):
        org, account = ORGS[i], f"gone-{i}"
        at = END + timedelta(minutes=11 + i)
        out += [
            _extra(contract_topics.VISIT_TYPE, Visit(org_id=org, account_id=account), at, 300 + i),
            _extra(
                contract_topics.INTERACTION_TYPE,
                Interaction(org_id=org, account_id=account, kind="like"),
                at + timedelta(seconds=1),
                400 + i,
            ),
            _extra(
                contract_topics.CONTENT_PUBLISHED_TYPE,
                ContentPublished(
                    org_id=org, account_id=account, content_id=f"gone-page-{i}", content_type="page"
                ),
                at + timedelta(seconds=2),
                500 + i,
            ),
        ]
    assert len(out) == AFTER_DELETION_EVENTS
    return out


async def test_bad_input_at_volume_is_counted_exactly(
    topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    t0 = time.monotonic()
    bad = fuzz_records() + edge_records()
    # the documented volume ("~2 000 fuzzed records"): a Hypothesis upgrade must not shrink it
    assert 1500 <= len(bad) <= 3000, f"{len(bad)} bad records generated"
    mixed = list(VALID)
    rng = random.Random(303)
    for record in bad:  # the bad records interleaved with the valid log, order kept
        mixed.insert(rng.randrange(len(mixed) + 1), record)
    late, deletions, after_deletion = late_records(), deletion_records(), after_deletion_records()
    reasons, accepted = expected_outcome(mixed, TEST_NOW)
    # every reason the codec knows is reached (late is the stream processor's, below)
    assert set(reasons) == {r.value for r in DeadLetterReason} - {"late"}, reasons
    assert len(accepted) > len(VALID) * 0.9
    extra_reasons, extra_accepted = expected_outcome(late + deletions + after_deletion, TEST_NOW)
    assert not extra_reasons
    assert len(extra_accepted) == len(late + deletions + after_deletion)
    zones = timezones_from(FUZZ_LOG.profiles)
    try:
        base = recompute(accepted, RULES, zones)
        batch = recompute(accepted + late + deletions + after_deletion, RULES, zones)
    except Exception as exc:  # the domain core must take whatever the codec accepts
        pytest.fail(f"the batch recomputation crashed on accepted input: {exc!r}")
    # the constructed events are what they are meant to be (the generated log has none of
    # either kind at the default TEST_NOW; other moments may give it a few)
    late_total = batch.outcomes.get("late", 0)
    after_deletion_total = batch.outcomes.get("after_deletion", 0)
    assert late_total - base.outcomes.get("late", 0) == LATE_EVENTS, batch.outcomes
    assert after_deletion_total - base.outcomes.get("after_deletion", 0) == AFTER_DELETION_EVENTS, (
        batch.outcomes
    )
    reasons["late"] += late_total  # late events are dead-lettered too
    expected = {org: comparable(score) for org, score in batch.scores.items()}
    say(
        f"{len(mixed)} records ({len(bad)} fuzzed) generated in {time.monotonic() - t0:.1f} s; "
        f"expected dead letters {dict(reasons)}"
    )

    await create_topics(topics.all(), bootstrap=BOOTSTRAP)
    worker = Worker("fuzz-" + topics.prefix, topics, tmp_path).start()
    workers.append(worker)
    worker.wait_ready()
    await produce(topics.profiles, FUZZ_LOG.profiles, bootstrap=BOOTSTRAP)
    wait_until(lambda: profiles_applied(worker) >= len(FUZZ_LOG.profiles), what="profiles")
    await produce(topics.activity, mixed, bootstrap=BOOTSTRAP)
    wait_until(lambda: processed(worker) >= len(mixed), timeout=150, what="every record")
    # once the log is consumed (every org's stream time past the late events' month): the late
    # events and the deletions; once those are consumed, the events after the deletions
    await produce(topics.activity, late + deletions, bootstrap=BOOTSTRAP)
    done = len(mixed) + len(late) + len(deletions)
    wait_until(lambda: processed(worker) >= done, timeout=30, what="late events, deletions")
    await produce(topics.activity, after_deletion, bootstrap=BOOTSTRAP)
    total = done + len(after_deletion)
    wait_until(lambda: processed(worker) >= total, timeout=30, what="events after deletion")

    assert alive(worker), f"the worker stopped:\n{worker.tail()}"
    assert worker.get("/health")[0] == 200
    # input = processed + dead-lettered, exactly
    assert processed(worker) == total
    dead = worker.counter("engagement_events_dead_lettered_total")
    by_reason = {
        reason: worker.counter("engagement_events_dead_lettered_total", reason=reason)
        for reason in reasons
    }
    assert by_reason == dict(reasons)
    assert dead == sum(reasons.values())
    # "counted as late" and "counted in a metric" (after deletion), exactly
    assert worker.counter("engagement_late_events_total") == late_total
    assert worker.counter("engagement_events_after_deletion_total") == after_deletion_total

    async def dlq_written() -> bool:
        return await topic_size(BOOTSTRAP, topics.dlq) >= dead

    await eventually(dlq_written, within=30, what="DLQ written")
    # the whole DLQ, every partition to its (settled) end: exactly the dead letters, per reason
    letters = await consume_to_end(topics.dlq)
    assert len(letters) == dead
    assert Counter(dict(m.headers)[DEAD_LETTER_REASON_HEADER].decode() for m in letters) == reasons
    assert_api_equals(worker, expected, timeout=60)
    say(f"done in {time.monotonic() - t0:.1f} s: {dead:.0f} dead letters, figures = batch")
