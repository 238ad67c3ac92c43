"""Pydantic models of every `data` payload in the event contract.

These models *are* the contract: the codec validates inbound events with them, the stream
processor builds outbound events with them and `engagement.events.contract` generates the
published JSON Schemas and AsyncAPI document from them. Keeping one definition means the docs can
never promise something the code does not enforce.

Policy shared by all payloads:

* unknown extra fields are ignored (`extra="ignore"`) so producers can add fields without
  breaking us;
* ids are non-empty strings and counts are real JSON integers (`"12"` or `12.0` is refused),
  because a silently coerced id or count would corrupt distinct counting downstream;
* timestamps must be RFC 3339 with an explicit offset and are normalised to UTC;
* a field with a default must be omitted to get that default; `null` is only accepted for
  fields whose default is `null`;
* models are frozen: an event is a fact, it is not edited after validation.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .fields import (
    DEFAULT_TIMEZONE,
    AccountKind,
    BenchmarkSide,
    ContentType,
    Count,
    EventTime,
    IanaTimezone,
    Id,
    InteractionKind,
    Level,
    MonthString,
    PlatformType,
    Probability,
    PublishAction,
    Score,
)
from .topics import (
    ACCOUNT_CREATED_TYPE,
    ACCOUNT_DELETED_TYPE,
    ALERT_TYPE,
    BENCHMARK_UPDATED_TYPE,
    CONTENT_PUBLISHED_TYPE,
    CONTENT_VIEWED_TYPE,
    INTERACTION_TYPE,
    LEVEL_CHANGED_TYPE,
    MONTH_CLOSED_TYPE,
    ORG_PROFILE_TYPE,
    SCORE_UPDATED_TYPE,
    VISIT_TYPE,
)

__all__ = [
    "ACTIVITY_TYPES",
    "ALL_TYPES",
    "INPUT_TYPES",
    "ORG_PROFILE_TYPE",
    "OUTPUT_TYPES",
    "AccountCreated",
    "AccountDeleted",
    "ActivityData",
    "Alert",
    "BenchmarkGroup",
    "BenchmarkUpdated",
    "ComponentFigure",
    "Components",
    "ContentPublished",
    "ContentViewed",
    "Interaction",
    "LevelChanged",
    "MonthClosed",
    "OrgProfile",
    "OutputData",
    "Quartiles",
    "ScoreUpdated",
    "Visit",
]

_FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
_AudienceSize = Annotated[int, Field(ge=1, strict=True)]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    """Model config with wire examples; they land in the JSON Schema and are tested there."""
    return ConfigDict(extra="ignore", frozen=True, json_schema_extra={"examples": list(examples)})


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# ================================================================================================
# Input payloads (topic intranet.activity, and intranet.org-profiles)
# ================================================================================================


class AccountCreated(_Payload):
    """An account now exists for the organisation: it enters the Reach denominator.

    `activated_at` is only for accounts that were already activated (had logged in) before the
    event stream began; it must not be later than the event's own time.
    """

    model_config = _examples(
        {"org_id": "org-1", "account_id": "acc-1"},
        {
            "org_id": "org-1",
            "account_id": "acc-2",
            "kind": "guest",
            "activated_at": "2024-12-01T08:00:00Z",
        },
    )

    org_id: Id
    account_id: Id
    kind: AccountKind = Field(
        "member", description="Only members count by default; guests and system accounts not."
    )
    activated_at: EventTime | None = Field(
        None, description="Set when the account was already activated before the stream began."
    )


class AccountDeleted(_Payload):
    """The account is gone: it leaves every numerator and denominator, for good."""

    model_config = _examples({"org_id": "org-1", "account_id": "acc-1"})

    org_id: Id
    account_id: Id


class Visit(_Payload):
    """The account opened the platform; its first visit activates it (Reach), each day counts
    once towards Visit."""

    model_config = _examples(
        {"org_id": "org-1", "account_id": "acc-1"},
        {"org_id": "org-1", "account_id": "acc-1", "client": "app"},
    )

    org_id: Id
    account_id: Id
    client: str | None = Field(None, description="web, app, ... (informational)")


class ContentPublished(_Payload):
    """The account published or edited content: Contribute; a created `message` is also a
    message that its audience can read (View)."""

    model_config = _examples(
        {
            "org_id": "org-1",
            "account_id": "acc-1",
            "content_id": "msg-1",
            "content_type": "message",
            "channel_id": "news",
            "audience_size": 250,
        },
        {
            "org_id": "org-1",
            "account_id": "acc-1",
            "content_id": "page-9",
            "content_type": "page",
            "action": "edited",
        },
    )

    org_id: Id
    account_id: Id = Field(description="The author.")
    content_id: Id
    content_type: ContentType
    action: PublishAction = "created"
    channel_id: Id | None = None
    audience_size: _AudienceSize | None = Field(
        None,
        description="Recipients of a message; when absent the number of activated accounts is "
        "used. Ignored for other content types.",
    )


class ContentViewed(_Payload):
    """The account read a piece of content; reads of channel messages count towards View."""

    model_config = _examples(
        {"org_id": "org-1", "account_id": "acc-2", "content_id": "msg-1", "content_type": "message"}
    )

    org_id: Id
    account_id: Id
    content_id: Id
    content_type: ContentType


class Interaction(_Payload):
    """The account interacted (like, reaction, comment, chat message, completed program):
    Interact."""

    model_config = _examples(
        {"org_id": "org-1", "account_id": "acc-2", "kind": "like", "target_id": "msg-1"}
    )

    org_id: Id
    account_id: Id
    kind: InteractionKind
    target_id: Id | None = None


class OrgProfile(_Payload):
    """Latest known profile of an organisation (compacted topic, key org_id).

    Sector, size (employees) and platform type place it in a benchmark group; the target level
    is the ambition it is measured against; the time zone decides its local days and months.
    """

    model_config = _examples(
        {"org_id": "org-1"},
        {
            "org_id": "org-1",
            "name": "Gemeente Voorbeeld",
            "sector": "government",
            "employees": 1200,
            "platform_type": "intranet",
            "target_level": "engaging",
            "timezone": "Europe/Amsterdam",
        },
    )

    org_id: Id
    name: str | None = None
    sector: Id | None = None
    employees: Count | None = None
    platform_type: PlatformType = "intranet"
    target_level: Level | None = None
    timezone: IanaTimezone = DEFAULT_TIMEZONE


#: Any payload on the activity topic (handy for `match`/`isinstance` narrowing).
ActivityData = (
    AccountCreated | AccountDeleted | Visit | ContentPublished | ContentViewed | Interaction
)

#: CloudEvents `type` -> payload model, for the activity topic.
ACTIVITY_TYPES: Final[dict[str, type[BaseModel]]] = {
    ACCOUNT_CREATED_TYPE: AccountCreated,
    ACCOUNT_DELETED_TYPE: AccountDeleted,
    VISIT_TYPE: Visit,
    CONTENT_PUBLISHED_TYPE: ContentPublished,
    CONTENT_VIEWED_TYPE: ContentViewed,
    INTERACTION_TYPE: Interaction,
}

# ================================================================================================
# Output payloads
# ================================================================================================


class ComponentFigure(_Payload):
    """One component with the numbers behind it, so every published percentage is explainable.

    `value` is `numerator / denominator * 100` rounded to one decimal and is `null` exactly
    when the denominator is 0 (no value rather than a misleading 0).
    """

    value: Score
    numerator: Count
    denominator: Count

    @model_validator(mode="after")
    def _null_iff_no_denominator(self) -> ComponentFigure:
        if (self.value is None) != (self.denominator == 0):
            raise ValueError("value must be null exactly when the denominator is 0")
        return self

    @classmethod
    def from_counts(cls, numerator: int, denominator: int) -> ComponentFigure:
        """Build the figure from exact counts, applying the rounding and null rules."""
        value = None if denominator == 0 else 100.0 * numerator / denominator
        return cls(value=value, numerator=numerator, denominator=denominator)


class Components(_Payload):
    """The five adoption components, always published together."""

    reach: ComponentFigure
    visit: ComponentFigure
    view: ComponentFigure
    interact: ComponentFigure
    contribute: ComponentFigure


_COMPONENTS_EXAMPLE = {
    "reach": {"value": 96.0, "numerator": 96, "denominator": 100},
    "visit": {"value": 62.5, "numerator": 60, "denominator": 96},
    "view": {"value": 41.3, "numerator": 1189, "denominator": 2880},
    "interact": {"value": 30.2, "numerator": 29, "denominator": 96},
    "contribute": {"value": None, "numerator": 0, "denominator": 0},
}


class ScoreUpdated(_Payload):
    """Current scores of one organisation as of an event time (topic engagement.scores).

    `window_start`..`window_end` are the local dates (tenant time zone, both inclusive) of
    the rolling 30-day window; `month_to_date` covers the running calendar month.
    """

    model_config = _examples(
        {
            "org_id": "org-1",
            "as_of": "2025-01-31T09:00:00Z",
            "timezone": "Europe/Amsterdam",
            "window_start": "2025-01-02",
            "window_end": "2025-01-31",
            "components": _COMPONENTS_EXAMPLE,
            "engagement_score": 57.5,
            "month": "2025-01",
            "month_to_date": _COMPONENTS_EXAMPLE,
            "month_engagement_score": 57.5,
            "operating_level": "informing",
            "level_confidence": 0.72,
            "target_level": "engaging",
            "target_gap": {
                "reach": 0.0,
                "visit": -7.5,
                "view": 1.3,
                "interact": -19.8,
                "contribute": None,
            },
            "benchmark_position": {"reach": "above", "visit": "at", "view": "below"},
        }
    )

    org_id: Id
    as_of: EventTime = Field(description="Event time the figures are valid for.")
    timezone: IanaTimezone
    window_start: date
    window_end: date
    components: Components
    engagement_score: Score
    month: MonthString
    month_to_date: Components
    month_engagement_score: Score
    operating_level: Level | None = None
    level_confidence: Probability | None = None
    target_level: Level | None = None
    target_gap: dict[str, _FiniteFloat | None] | None = Field(
        None, description="Per component: organisation minus target profile, in points."
    )
    benchmark_position: dict[str, BenchmarkSide] | None = Field(
        None, description="Per component: position against the organisation's benchmark group."
    )

    @model_validator(mode="after")
    def _window_ordered(self) -> ScoreUpdated:
        if self.window_start > self.window_end:
            raise ValueError("window_start must not be after window_end")
        return self


class MonthClosed(_Payload):
    """Final figures of a calendar month, published once the month (plus grace) is over."""

    model_config = _examples(
        {
            "org_id": "org-1",
            "month": "2025-01",
            "as_of": "2025-02-01T00:00:00Z",
            "timezone": "Europe/Amsterdam",
            "components": _COMPONENTS_EXAMPLE,
            "engagement_score": 57.5,
        }
    )

    org_id: Id
    month: MonthString
    as_of: EventTime
    timezone: IanaTimezone
    components: Components
    engagement_score: Score


class LevelChanged(_Payload):
    """The operating level changed after a sustained, clear best fit (hysteresis applied).

    `from_level` is null for the first level ever established for the organisation.
    """

    model_config = _examples(
        {
            "org_id": "org-1",
            "from_level": "informing",
            "to_level": "engaging",
            "at": "2025-01-31T09:00:00Z",
            "confidence": 0.81,
            "deciding_components": ["contribute", "interact"],
        }
    )

    org_id: Id
    from_level: Level | None
    to_level: Level
    at: EventTime
    confidence: Probability
    deciding_components: list[str]


class Alert(_Payload):
    """An adoption alert changed state; it carries the numbers that made it fire or resolve."""

    model_config = _examples(
        {
            "org_id": "org-1",
            "alert": "component_below_threshold",
            "status": "firing",
            "severity": "warning",
            "component": "reach",
            "value": 91.2,
            "threshold": 95.0,
            "text": "Reach 91.2 is below 95",
            "at": "2025-01-31T09:00:00Z",
        }
    )

    org_id: Id
    alert: Id = Field(description="Alert name, stable per rule.")
    status: Literal["firing", "resolved"]
    severity: Id
    component: str | None = None
    value: _FiniteFloat | None = None
    threshold: _FiniteFloat | None = None
    text: str
    at: EventTime


class BenchmarkGroup(_Payload):
    """Organisations compared with each other: same sector, size band and platform type."""

    sector: Id
    size_band: Id
    platform_type: PlatformType


class Quartiles(_Payload):
    """Distribution of one component within a benchmark group."""

    p25: _FiniteFloat
    median: _FiniteFloat
    p75: _FiniteFloat

    @model_validator(mode="after")
    def _ordered(self) -> Quartiles:
        if not self.p25 <= self.median <= self.p75:
            raise ValueError("quartiles must satisfy p25 <= median <= p75")
        return self


class BenchmarkUpdated(_Payload):
    """Figures of a benchmark group (key `sector|size_band|platform_type`); only published
    for groups with enough organisations that no single tenant can be read out of it."""

    model_config = _examples(
        {
            "group": {
                "sector": "government",
                "size_band": "1000-4999",
                "platform_type": "intranet",
            },
            "org_count": 7,
            "components": {"reach": {"p25": 88.0, "median": 93.5, "p75": 97.1}},
        }
    )

    group: BenchmarkGroup
    org_count: Count
    components: dict[str, Quartiles]


OutputData = ScoreUpdated | MonthClosed | LevelChanged | Alert | BenchmarkUpdated

#: Every inbound type -> payload model (activity topic plus the org profile topic).
INPUT_TYPES: Final[dict[str, type[BaseModel]]] = {**ACTIVITY_TYPES, ORG_PROFILE_TYPE: OrgProfile}

#: Every outbound type -> payload model.
OUTPUT_TYPES: Final[dict[str, type[BaseModel]]] = {
    SCORE_UPDATED_TYPE: ScoreUpdated,
    MONTH_CLOSED_TYPE: MonthClosed,
    LEVEL_CHANGED_TYPE: LevelChanged,
    ALERT_TYPE: Alert,
    BENCHMARK_UPDATED_TYPE: BenchmarkUpdated,
}

ALL_TYPES: Final[dict[str, type[BaseModel]]] = {**INPUT_TYPES, **OUTPUT_TYPES}
