"""structlog JSON logs for the service and every library that logs through stdlib.

Faust's worker clears the root logger's handlers and applies ``logging_config`` on start, so
our configuration is handed to Faust as a dictConfig (``logging_config(...)``) rather than
installed beforehand, where the worker would wipe it.
"""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

__all__ = ["RateLimitedLog", "configure_logging", "configure_structlog", "logging_config"]

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


def _renderer(fmt: str) -> Any:
    if fmt == "console":
        return structlog.dev.ConsoleRenderer()
    return structlog.processors.JSONRenderer()


def logging_config(level: str = "info", fmt: str = "json") -> dict[str, Any]:
    """A dictConfig routing stdlib logging (faust, mode, aiokafka) through structlog."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": _SHARED,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    # frame locals can hold secrets (a client's auth settings) and raw events
                    structlog.processors.ExceptionRenderer(
                        ExceptionDictTransformer(show_locals=False)
                    ),
                    _renderer(fmt),
                ],
            }
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "faust": {"level": level.upper()},
            "mode": {"level": level.upper()},
        },
    }


def configure_structlog() -> None:
    """Send structlog events through stdlib logging, where ``logging_config`` renders them."""
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Configure structlog and stdlib for processes that are not Faust workers."""
    logging.config.dictConfig(logging_config(level, fmt))
    configure_structlog()


class RateLimitedLog:
    """Log a message at most once per ``interval`` seconds per key, counting what it skipped.

    Bad input can arrive by the million; one line per reason and interval says it all.
    """

    def __init__(self, logger: Any, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, key: str, event: str, **kw: Any) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return
        self._last[key] = now
        skipped = self._skipped.pop(key, 0)
        self._logger.warning(event, suppressed_since_last=skipped, **kw)
