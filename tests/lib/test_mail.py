"""lib.mail against real servers: plain SMTP, STARTTLS with a login, TLS from
the start (smtps), an untrusted certificate; and the mail folder."""

from __future__ import annotations

import datetime
import ipaddress
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lib.errors import ConfigurationError
from lib.mail import FileMailer, SmtpMailer, create_mailer
from tests.functions.messages.support import SmtpServer, eml_files, parse, smtp_server

USER = "mailer@portal.test"
PASSWORD = "p@ss:word/1"


def message(to: str = "student@example.com", *, outbox_id: str = "0" * 32) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Student Portal <no-reply@student-portal.invalid>"
    mail["To"] = to
    mail["Subject"] = "Hello"
    mail["X-Portal-Message-Id"] = outbox_id
    mail.set_content("Hello there")
    mail.add_alternative("<p>Hello there</p>", subtype="html")
    return mail


@dataclass
class Certificates:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A private CA and a certificate it signed for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portal Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = folder / "server.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return Certificates(ca_file=ca_file, server=server)


@pytest.fixture
def trusted(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> Certificates:
    """The test CA is the one the system trusts (as a real provider's CA would be)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return certificates


def check_login(logins: list[tuple[str, str]]) -> Any:
    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        logins.append((login, password))
        # handled=False: the server itself answers 535 to a failed login.
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)

    return authenticator


@pytest.fixture
def plain() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


async def test_plain_smtp_delivers_to_the_one_address_in_to(plain: SmtpServer) -> None:
    # GIVEN a server on loopback that offers no STARTTLS
    mailer = SmtpMailer(plain.url)

    # WHEN a message is sent
    await mailer.send(message("one@example.com"))

    # THEN the server received it for that address alone
    [received] = plain.received
    assert received.rcpt_tos == ["one@example.com"]
    assert received.mail_from == "no-reply@student-portal.invalid"
    assert received.mail["Subject"] == "Hello"
    assert received.tls is False


async def test_starttls_required_is_not_waived_when_the_server_lacks_it(
    plain: SmtpServer,
) -> None:
    # GIVEN a URL that insists on STARTTLS, and a server without it
    mailer = SmtpMailer(f"{plain.url}?starttls=required")

    # WHEN a message is sent
    # THEN it fails rather than going out in the clear
    with pytest.raises(smtplib.SMTPNotSupportedError, match="STARTTLS"):
        await mailer.send(message())
    assert plain.received == []


async def test_starttls_and_login_when_the_server_offers_them(trusted: Certificates) -> None:
    # GIVEN a server that requires STARTTLS and a login, and a URL with escaped credentials
    logins: list[tuple[str, str]] = []
    with smtp_server(
        tls_context=trusted.server, require_starttls=True,
        auth_required=True, auth_require_tls=True, authenticator=check_login(logins),
    ) as server:  # fmt: skip
        url = f"smtp://mailer%40portal.test:p%40ss%3Aword%2F1@127.0.0.1:{server.port}"

        # WHEN a message is sent
        await SmtpMailer(url).send(message("tls@example.com"))

    # THEN it went over TLS after logging in with the unescaped credentials
    [received] = server.received
    assert received.tls is True
    assert received.rcpt_tos == ["tls@example.com"]
    assert logins == [(USER, PASSWORD)]


async def test_a_wrong_password_is_an_error(trusted: Certificates) -> None:
    # GIVEN a server that checks the login
    logins: list[tuple[str, str]] = []
    with smtp_server(
        tls_context=trusted.server, require_starttls=True, auth_required=True,
        auth_require_tls=True, authenticator=check_login(logins),
    ) as server:  # fmt: skip
        mailer = SmtpMailer(f"smtp://mailer%40portal.test:wrong@127.0.0.1:{server.port}")

        # WHEN a message is sent with the wrong password
        # THEN the login fails and nothing is accepted
        with pytest.raises(smtplib.SMTPAuthenticationError):
            await mailer.send(message())
    assert server.received == []
    assert logins
    assert set(logins) == {(USER, "wrong")}


async def test_an_untrusted_certificate_is_refused(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a STARTTLS server whose certificate no trusted CA signed
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    # WHEN a message is sent
    # THEN the TLS handshake fails and nothing is accepted
    with (
        smtp_server(tls_context=certificates.server, require_starttls=True) as server,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        await SmtpMailer(server.url).send(message())
    assert server.received == []


async def test_smtps_is_tls_from_the_first_byte(trusted: Certificates) -> None:
    # GIVEN a server speaking TLS from the start
    with smtp_server(ssl_context=trusted.server) as server:
        # WHEN a message is sent to an smtps:// URL
        await SmtpMailer(f"smtps://127.0.0.1:{server.port}").send(message("smtps@example.com"))

    # THEN it arrived over TLS
    [received] = server.received
    assert received.tls is True
    assert received.rcpt_tos == ["smtps@example.com"]


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "username", "password", "require_starttls"),
    [
        ("smtp://mail.example.com", "mail.example.com", 587, False, None, None, False),
        ("smtps://mail.example.com", "mail.example.com", 465, True, None, None, False),
        ("smtp://u%40x:p%2Fw@mail.example.com:2525?starttls=required",
         "mail.example.com", 2525, False, "u@x", "p/w", True),
    ],
)  # fmt: skip
def test_smtp_url_parts(
    url: str,
    host: str,
    port: int,
    tls: bool,
    username: str | None,
    password: str | None,
    require_starttls: bool,
) -> None:
    # GIVEN an SMTP_URL
    # WHEN the mailer reads it
    mailer = SmtpMailer(url)

    # THEN it knows where and how to connect
    assert (mailer.host, mailer.port, mailer.tls) == (host, port, tls)
    assert (mailer.username, mailer.password) == (username, password)
    assert mailer.require_starttls is require_starttls


@pytest.mark.parametrize(
    "url", ["http://u:hunter2@mail.example.com", "smtp://u:hunter2@", "hunter2@mail.example.com:25"]
)
def test_an_smtp_url_that_is_not_one_is_a_configuration_error(url: str) -> None:
    # GIVEN a malformed SMTP_URL holding a password
    # WHEN the mailer reads it
    # THEN it refuses without echoing the password
    with pytest.raises(ConfigurationError) as raised:
        SmtpMailer(url)
    assert "hunter2" not in str(raised.value)


def test_create_mailer_picks_smtp_only_when_configured(tmp_path: Path) -> None:
    # GIVEN an SMTP_URL, or none
    # WHEN a mailer is created
    by_smtp = create_mailer("smtp://mail.example.com:25", tmp_path)
    by_file = create_mailer(None, tmp_path)

    # THEN SMTP is used only when configured, files otherwise
    assert isinstance(by_smtp, SmtpMailer)
    assert isinstance(by_file, FileMailer)
    assert by_file.folder == tmp_path


async def test_file_mailer_writes_one_complete_file_per_message(tmp_path: Path) -> None:
    # GIVEN a mail folder that does not exist yet
    folder = tmp_path / "var" / "mail"
    mailer = FileMailer(folder)

    # WHEN two messages are written
    await mailer.send(message("a@example.com", outbox_id="a" * 32))
    await mailer.send(message("b@example.com", outbox_id="b" * 32))

    # THEN there are two .eml files named after the messages and nothing else
    assert sorted(p.name for p in folder.iterdir()) == [f"{'a' * 32}.eml", f"{'b' * 32}.eml"]
    assert parse((folder / f"{'b' * 32}.eml").read_bytes())["To"] == "b@example.com"


async def test_file_mailer_shows_a_message_sent_twice(tmp_path: Path) -> None:
    # GIVEN a mail folder
    mailer = FileMailer(tmp_path)

    # WHEN the same message is sent twice
    await mailer.send(message(outbox_id="c" * 32))
    await mailer.send(message(outbox_id="c" * 32))

    # THEN both copies are there to count, not one overwriting the other
    assert [p.name for p in eml_files(tmp_path)] == [f"{'c' * 32}.1.eml", f"{'c' * 32}.eml"]
