"""Kafka security settings -> Faust ``broker_credentials`` and aiokafka keyword arguments.

No broker: the TLS contexts are checked against a local asyncio TLS server that requires a
client certificate from our test CA, which shows that the CA file, host-name checking and the
client certificate really end up in the context Faust hands to aiokafka.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from engagement.kafka_security import (
    KafkaSecurity,
    KafkaSecurityError,
    aiokafka_kwargs,
    broker_credentials,
    ssl_context,
)
from engagement.settings import Settings

PASSWORD = "scram-Pa55word-never-logged"
KEY_PASSWORD = "key-Pa55word-never-logged"


class Pki:
    """Paths of the test PKI's PEM files."""

    def __init__(self, root: Path) -> None:
        self.ca_pem = root / "ca.pem"
        self.other_ca_pem = root / "other-ca.pem"
        self.broker_pem, self.broker_key = root / "broker.pem", root / "broker.key"
        self.client_pem, self.client_key = root / "client.pem", root / "client.key"
        self.client_enc_key = root / "client-enc.key"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(root: Path, name: str, ca: str, subject: str, ext: str | None = None) -> None:
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=root,
    )  # fmt: skip
    extra = ["-extfile", f"{name}.ext"] if ext else []
    if ext:
        (root / f"{name}.ext").write_text(ext)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *extra, cwd=root,
    )  # fmt: skip


def _ca(root: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        # key usage: Python 3.13's default contexts verify strictly (VERIFY_X509_STRICT)
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=root,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA, a broker certificate for localhost, a client certificate (plain and
    encrypted key) and an unrelated CA."""
    root = tmp_path_factory.mktemp("pki")
    _ca(root, "ca")
    _ca(root, "other-ca")
    _issue(root, "broker", "ca", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _issue(root, "client", "ca", "/CN=engagement-scorer")
    _openssl(
        "pkey", "-in", "client.key", "-out", "client-enc.key", "-aes256",
        "-passout", f"pass:{KEY_PASSWORD}", cwd=root,
    )  # fmt: skip
    return Pki(root)


def _server_context(pki: Pki) -> ssl.SSLContext:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_pem))
    server.load_cert_chain(str(pki.broker_pem), str(pki.broker_key))
    server.verify_mode = ssl.CERT_REQUIRED  # mutual TLS, as a broker with ssl.client.auth
    return server


async def _exchange(pki: Pki, client: ssl.SSLContext, server_hostname: str) -> tuple[bytes, str]:
    """Connect to a mutual-TLS server: its reply and the client certificate CN it saw."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cert = writer.get_extra_info("peercert") or {}
        seen.extend(v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName")
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=_server_context(pki))
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname=server_hostname),
            timeout=10,
        )
        try:
            reply = await asyncio.wait_for(reader.read(2), timeout=10)
        except (ssl.SSLError, ConnectionError):
            reply = b""  # TLS 1.3: the server refuses the client after the client's handshake
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    return reply, ",".join(seen)


async def _handshake(pki: Pki, client: ssl.SSLContext, server_hostname: str) -> str:
    """A successful exchange: returns the client certificate's CN the server saw."""
    reply, seen = await _exchange(pki, client, server_hostname)
    assert reply == b"ok"
    return seen


# --------------------------------------------------------------------------------------------
# what Faust gets
# --------------------------------------------------------------------------------------------


def test_plaintext_is_the_default_and_needs_nothing() -> None:
    security = KafkaSecurity()
    assert broker_credentials(security) is None
    assert aiokafka_kwargs(security) == {}
    assert ssl_context(security) is None


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_scram_becomes_sasl_credentials_with_a_verifying_context(
    pki: Pki, mechanism: str
) -> None:
    security = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        sasl_username="scorer",
        sasl_password=SecretStr(PASSWORD),
        ssl_cafile=pki.ca_pem,
    )
    credentials = broker_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    # exactly what Faust's aiokafka driver will hand to the consumer, producer and admin
    auth = credentials_to_aiokafka_auth(credentials)
    context = auth.pop("ssl_context")
    assert auth == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "scorer",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [dict(x[0] for x in c["subject"]) for c in context.get_ca_certs()] == [
        {"commonName": "ca"}
    ]
    kwargs = aiokafka_kwargs(security)
    assert isinstance(kwargs.pop("ssl_context"), ssl.SSLContext)
    assert kwargs == auth  # plain aiokafka clients get the same
    assert PASSWORD not in repr(credentials)
    assert PASSWORD not in repr(security)


def test_sasl_plaintext_scram_has_no_tls() -> None:
    security = KafkaSecurity(
        protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="scorer",
        sasl_password=SecretStr(PASSWORD),
    )
    credentials = broker_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials_to_aiokafka_auth(credentials)["security_protocol"] == "SASL_PLAINTEXT"
    assert credentials.ssl_context is None
    assert "ssl_context" not in aiokafka_kwargs(security)


async def test_ssl_with_client_certificate_does_mutual_tls(pki: Pki) -> None:
    security = KafkaSecurity(
        protocol="SSL",
        ssl_cafile=pki.ca_pem,
        ssl_certfile=pki.client_pem,
        ssl_keyfile=pki.client_key,
    )
    credentials = broker_credentials(security)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(credentials)["security_protocol"] == "SSL"
    assert await _handshake(pki, credentials.context, "localhost") == "engagement-scorer"


async def test_the_context_refuses_a_broker_of_another_ca_or_name(pki: Pki) -> None:
    other = ssl_context(KafkaSecurity(protocol="SSL", ssl_cafile=pki.other_ca_pem))
    assert other is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(pki, other, "localhost")
    ours = ssl_context(
        KafkaSecurity(
            protocol="SSL",
            ssl_cafile=pki.ca_pem,
            ssl_certfile=pki.client_pem,
            ssl_keyfile=pki.client_key,
        )
    )
    assert ours is not None
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        await _handshake(pki, ours, "kafka.example.org")  # not the certificate's name


async def test_without_a_client_certificate_a_mutual_tls_broker_refuses(pki: Pki) -> None:
    context = ssl_context(KafkaSecurity(protocol="SSL", ssl_cafile=pki.ca_pem))
    assert context is not None
    try:
        reply, seen = await _exchange(pki, context, "localhost")
    except (ssl.SSLError, ConnectionError):
        reply, seen = b"", ""
    assert (reply, seen) == (b"", "")


async def test_an_encrypted_client_key_is_opened_with_its_password(pki: Pki) -> None:
    security = KafkaSecurity(
        protocol="SSL",
        ssl_cafile=pki.ca_pem,
        ssl_certfile=pki.client_pem,
        ssl_keyfile=pki.client_enc_key,
        ssl_key_password=SecretStr(KEY_PASSWORD),
    )
    context = ssl_context(security)
    assert context is not None
    assert await _handshake(pki, context, "localhost") == "engagement-scorer"
    assert KEY_PASSWORD not in repr(security)


def test_an_encrypted_key_without_password_fails_instead_of_prompting(pki: Pki) -> None:
    security = KafkaSecurity(
        protocol="SSL", ssl_certfile=pki.client_pem, ssl_keyfile=pki.client_enc_key
    )
    with pytest.raises(KafkaSecurityError, match="ENGAGEMENT_KAFKA_SSL_KEY_PASSWORD"):
        ssl_context(security)


def test_a_wrong_key_password_is_reported_without_the_password(pki: Pki) -> None:
    wrong = "wrong-Pa55word-never-logged"
    security = KafkaSecurity(
        protocol="SSL",
        ssl_certfile=pki.client_pem,
        ssl_keyfile=pki.client_enc_key,
        ssl_key_password=SecretStr(wrong),
    )
    with pytest.raises(KafkaSecurityError, match="client certificate") as info:
        ssl_context(security)
    assert wrong not in str(info.value)


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(KafkaSecurityError, match=r"nope\.pem"):
        ssl_context(KafkaSecurity(protocol="SSL", ssl_cafile=missing))


# --------------------------------------------------------------------------------------------
# combinations that would connect with less protection than configured are refused
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol": "SASL_SSL"}, "needs ENGAGEMENT_KAFKA_SASL_USERNAME"),
        ({"protocol": "SASL_SSL", "sasl_username": "u"}, "needs ENGAGEMENT_KAFKA_SASL_USERNAME"),
        (
            {"protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": SecretStr("")},
            "PASSWORD is empty",
        ),
        (
            {
                "protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "PLAIN",
                "sasl_username": "u",
                "sasl_password": SecretStr(PASSWORD),
            },
            "clear text",
        ),
        (
            {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "GSSAPI",
                "sasl_username": "u",
                "sasl_password": SecretStr(PASSWORD),
            },
            "MECHANISM must be one of",
        ),
        ({"protocol": "PLAINTEXT", "ssl_cafile": Path("ca.pem")}, "does not use TLS"),
        ({"protocol": "SASL_PLAINTEXT", "ssl_certfile": Path("c.pem")}, "does not use TLS"),
        (
            {"protocol": "PLAINTEXT", "sasl_username": "u", "sasl_password": SecretStr(PASSWORD)},
            "does not use SASL",
        ),
        ({"protocol": "SSL", "sasl_password": SecretStr(PASSWORD)}, "does not use SASL"),
        ({"protocol": "SSL", "ssl_keyfile": Path("k.pem")}, "KEYFILE set without"),
        ({"protocol": "TLS"}, "PROTOCOL must be one of"),
    ],
)
def test_incomplete_or_contradictory_settings_are_refused(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(KafkaSecurityError, match=message) as info:
        KafkaSecurity(**fields)  # type: ignore[arg-type]
    assert PASSWORD not in str(info.value)


# --------------------------------------------------------------------------------------------
# from the environment
# --------------------------------------------------------------------------------------------


def test_settings_from_the_environment(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "ENGAGEMENT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ENGAGEMENT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "ENGAGEMENT_KAFKA_SASL_USERNAME": "scorer",
        "ENGAGEMENT_KAFKA_SASL_PASSWORD": PASSWORD,
        "ENGAGEMENT_KAFKA_SSL_CAFILE": str(pki.ca_pem),
        "ENGAGEMENT_KAFKA_SSL_CERTFILE": str(pki.client_pem),
        "ENGAGEMENT_KAFKA_SSL_KEYFILE": str(pki.client_enc_key),
        "ENGAGEMENT_KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    security = KafkaSecurity.from_settings(settings)
    assert security.protocol == "SASL_SSL"
    assert security.ssl_key_password is not None
    assert security.ssl_key_password.get_secret_value() == KEY_PASSWORD
    credentials = broker_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.password == PASSWORD
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    app = faust.App("security-test", broker="kafka://127.0.0.1:1", broker_credentials=credentials)
    assert app.conf.broker_credentials is credentials


def test_defaults_from_an_empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("ENGAGEMENT_"):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert broker_credentials(KafkaSecurity.from_settings(settings)) is None
