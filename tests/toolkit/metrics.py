"""A worker's ``/metrics`` (Prometheus text format), read with prometheus_client's parser."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass(frozen=True)
class Metrics:
    """The samples of one scrape. A sample's name is the series name as exposed
    (``engagement_events_processed_total``, ``..._bucket``), not its family's."""

    samples: tuple[Sample, ...]

    def total(self, name: str, **labels: str) -> float:
        """Sum of the series ``name`` over the samples whose labels include ``labels``
        (0 when there is none)."""
        return sum(s.value for s in self._matching(name, labels))

    def get(self, name: str, default: float = 0.0) -> float:
        """Sum of the series ``name`` over all its labels, ``default`` when it is absent (a
        gauge the worker has not set yet)."""
        values = [s.value for s in self._matching(name, {})]
        return sum(values) if values else default

    def totals(self) -> dict[str, float]:
        """{series name: sum over its labels}."""
        out: dict[str, float] = {}
        for s in self.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
        return out

    def _matching(self, name: str, labels: dict[str, str]) -> list[Sample]:
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]


def parse_metrics(text: str) -> Metrics:
    """Parse Prometheus text exposition (a ``ValueError`` on text that is not)."""
    return Metrics(
        tuple(
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        )
    )
