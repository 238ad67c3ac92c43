from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Topics, Worker, create_topics, require_broker, unique_prefix


@pytest.fixture
def topics() -> Topics:
    require_broker()
    return Topics(unique_prefix())


@pytest.fixture
async def created_topics(topics: Topics) -> Topics:
    await create_topics(topics.all())
    return topics


@pytest.fixture
def workers(tmp_path: Path, topics: Topics) -> Iterator[list[Worker]]:
    """Workers started by a test; all stopped (and their logs kept) at the end."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()
        print(f"--- {worker.log_path} ---\n{worker.tail(15)}")
