"""Kafka client security from settings: TLS (CA, client certificate) and SASL (SCRAM, PLAIN).

One description of how to reach the cluster, :class:`KafkaSecurity`, built from the
``ENGAGEMENT_KAFKA_*`` settings (:meth:`KafkaSecurity.from_settings`), turned into

- :func:`broker_credentials`: the ``broker_credentials`` of the Faust app
  (``faust.SASLCredentials`` / ``faust.SSLCredentials``), and
- :func:`aiokafka_kwargs`: the keyword arguments of plain aiokafka clients (the admin client
  that creates topics, the simulator's producer, the batch reader).

Both are pure functions of the values, apart from reading the certificate files named in them.
Combinations that would silently connect with less protection than configured are refused with
:class:`KafkaSecurityError` (TLS files or SASL credentials with a protocol that does not use
them; ``PLAIN`` without TLS, which would send the password in clear text). Error messages name
settings and files, never a secret.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, get_args

from pydantic import SecretStr

__all__ = [
    "KafkaSecurity",
    "KafkaSecurityError",
    "KafkaSecuritySettings",
    "Mechanism",
    "SecurityProtocol",
    "aiokafka_kwargs",
    "broker_credentials",
    "ssl_context",
]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]

_PROTOCOLS: Final = frozenset(get_args(SecurityProtocol))
_MECHANISMS: Final = frozenset(get_args(Mechanism))
_TLS: Final = frozenset({"SSL", "SASL_SSL"})
_SASL: Final = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or contradict each other."""


class KafkaSecuritySettings(Protocol):
    """The settings fields this module reads (``engagement.settings.Settings`` has them)."""

    @property
    def kafka_security_protocol(self) -> str: ...
    @property
    def kafka_sasl_mechanism(self) -> str: ...
    @property
    def kafka_sasl_username(self) -> str | None: ...
    @property
    def kafka_sasl_password(self) -> SecretStr | None: ...
    @property
    def kafka_ssl_cafile(self) -> Path | None: ...
    @property
    def kafka_ssl_certfile(self) -> Path | None: ...
    @property
    def kafka_ssl_keyfile(self) -> Path | None: ...
    @property
    def kafka_ssl_key_password(self) -> SecretStr | None: ...
    @property
    def kafka_ssl_check_hostname(self) -> bool: ...


def _secret(value: SecretStr | str | None) -> SecretStr | None:
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How to reach the cluster. Secrets are ``SecretStr``: the repr never shows them."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True

    def __post_init__(self) -> None:
        # accept plain strings for the secrets, keep them wrapped from here on
        object.__setattr__(self, "sasl_password", _secret(self.sasl_password))
        object.__setattr__(self, "ssl_key_password", _secret(self.ssl_key_password))
        self.validate()

    @classmethod
    def from_settings(cls, settings: KafkaSecuritySettings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password,
            ssl_cafile=settings.kafka_ssl_cafile,
            ssl_certfile=settings.kafka_ssl_certfile,
            ssl_keyfile=settings.kafka_ssl_keyfile,
            ssl_key_password=settings.kafka_ssl_key_password,
            ssl_check_hostname=settings.kafka_ssl_check_hostname,
        )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in _TLS

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in _SASL

    def validate(self) -> None:
        """Refuse incomplete or contradictory combinations (messages never carry secrets)."""
        p = self.protocol
        if p not in _PROTOCOLS:
            raise KafkaSecurityError(
                f"ENGAGEMENT_KAFKA_SECURITY_PROTOCOL must be one of {sorted(_PROTOCOLS)}, not {p!r}"
            )
        tls_files = {
            "ENGAGEMENT_KAFKA_SSL_CAFILE": self.ssl_cafile,
            "ENGAGEMENT_KAFKA_SSL_CERTFILE": self.ssl_certfile,
            "ENGAGEMENT_KAFKA_SSL_KEYFILE": self.ssl_keyfile,
            "ENGAGEMENT_KAFKA_SSL_KEY_PASSWORD": self.ssl_key_password,
        }
        if not self.uses_tls:
            given = sorted(name for name, value in tls_files.items() if value is not None)
            if given:
                raise KafkaSecurityError(
                    f"{', '.join(given)} set, but security protocol {p} does not use TLS "
                    "(use SSL or SASL_SSL)"
                )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise KafkaSecurityError(
                "ENGAGEMENT_KAFKA_SSL_KEYFILE set without ENGAGEMENT_KAFKA_SSL_CERTFILE"
            )
        has_credentials = self.sasl_username is not None or self.sasl_password is not None
        if not self.uses_sasl:
            if has_credentials:
                raise KafkaSecurityError(
                    "ENGAGEMENT_KAFKA_SASL_USERNAME/PASSWORD set, but security protocol "
                    f"{p} does not use SASL (use SASL_SSL)"
                )
            return
        if self.sasl_mechanism not in _MECHANISMS:
            raise KafkaSecurityError(
                f"ENGAGEMENT_KAFKA_SASL_MECHANISM must be one of {sorted(_MECHANISMS)}, "
                f"not {self.sasl_mechanism!r}"
            )
        if not self.sasl_username or self.sasl_password is None:
            raise KafkaSecurityError(
                f"security protocol {p} needs ENGAGEMENT_KAFKA_SASL_USERNAME and "
                "ENGAGEMENT_KAFKA_SASL_PASSWORD"
            )
        if not self.sasl_password.get_secret_value():
            raise KafkaSecurityError("ENGAGEMENT_KAFKA_SASL_PASSWORD is empty")
        if self.sasl_mechanism == "PLAIN" and not self.uses_tls:
            raise KafkaSecurityError(
                "SASL mechanism PLAIN sends the password in clear text: use SASL_SSL "
                "(or a SCRAM mechanism)"
            )


def _no_key_password() -> str:
    # Without a password callback OpenSSL would prompt on the terminal: a worker would hang.
    raise KafkaSecurityError("the client key is encrypted: set ENGAGEMENT_KAFKA_SSL_KEY_PASSWORD")


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (None otherwise): server certificates verified
    against ``ssl_cafile`` (else the system's CAs), TLS 1.2 at least, the client certificate
    loaded for mutual TLS when given."""
    if not security.uses_tls:
        return None
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=None if security.ssl_cafile is None else str(security.ssl_cafile),
        )
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(
            f"cannot load the CA file {security.ssl_cafile} "
            f"(ENGAGEMENT_KAFKA_SSL_CAFILE): {exc.__class__.__name__}"
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = security.ssl_check_hostname
    if security.ssl_certfile is not None:
        key_password = security.ssl_key_password
        password: Callable[[], str] = (
            _no_key_password if key_password is None else key_password.get_secret_value
        )
        try:
            context.load_cert_chain(
                str(security.ssl_certfile),
                None if security.ssl_keyfile is None else str(security.ssl_keyfile),
                password,
            )
        except KafkaSecurityError:
            raise
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                f"cannot load the client certificate {security.ssl_certfile} / key "
                f"{security.ssl_keyfile} (wrong key password, or not PEM): "
                f"{exc.__class__.__name__}"
            ) from None
    return context


def broker_credentials(security: KafkaSecurity) -> Any:
    """The Faust app's ``broker_credentials``: None for PLAINTEXT, ``faust.SSLCredentials``
    for SSL, ``faust.SASLCredentials`` (with the TLS context for SASL_SSL) for SASL."""
    from faust.auth import SASLCredentials, SSLCredentials

    context = ssl_context(security)
    if security.uses_sasl:
        assert security.sasl_password is not None  # validate() checked it
        return SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password.get_secret_value(),
            mechanism=security.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def aiokafka_kwargs(security: KafkaSecurity) -> dict[str, Any]:
    """Keyword arguments for plain aiokafka clients (``AIOKafkaAdminClient``,
    ``AIOKafkaProducer``, ``AIOKafkaConsumer``); empty for PLAINTEXT."""
    if security.protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": security.protocol}
    context = ssl_context(security)
    if context is not None:
        kwargs["ssl_context"] = context
    if security.uses_sasl:
        assert security.sasl_password is not None
        kwargs.update(
            sasl_mechanism=security.sasl_mechanism,
            sasl_plain_username=security.sasl_username,
            sasl_plain_password=security.sasl_password.get_secret_value(),
        )
    return kwargs
