"""lib.config.Settings.from_env and lib.db's URL handling."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from lib.config import DEVELOPMENT_WEBHOOK_SECRET, Settings
from lib.db import async_url, create_engine, is_sqlite
from lib.errors import ConfigurationError
from tests.conftest import postgres_url

SECRET_FILE = ".portal-secret-key"
STRONG_SECRET = "s" * 32
PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": STRONG_SECRET,
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "DATABASE_URL": "postgresql://portal@db.example/portal",
    "SITE_URL": "https://portal.example",
    "SMTP_URL": "smtp://mailer:secret@smtp.example:587",
}


@pytest.fixture(autouse=True)
def working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The development secret key is kept in the working folder.
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(working_folder: Path) -> None:
    # GIVEN an empty environment
    # WHEN the settings are read
    settings = Settings.from_env({})
    # THEN the documented development defaults apply
    assert settings.env == "development"
    assert not settings.is_production
    assert settings.database_url == "sqlite:///portal.db"
    assert settings.site_url == "http://localhost:8000"
    assert settings.site_origin == "http://localhost:8000"
    assert settings.stripe_secret_key is None
    assert settings.stripe_webhook_secret == DEVELOPMENT_WEBHOOK_SECRET
    assert settings.stripe_api_base is None
    assert settings.redis_url is None
    assert settings.smtp_url is None
    assert settings.mail_dir == Path("var/mail")
    assert settings.access_token_ttl_seconds == 15 * 60
    assert settings.max_body_bytes == 1024 * 1024
    assert (settings.argon2_time_cost, settings.argon2_memory_cost) == (3, 64 * 1024)
    assert settings.argon2_parallelism == 4
    assert settings.serve_static is True
    assert settings.trusted_proxy_hops == 0
    assert settings.mail_from == "Student Portal <no-reply@student-portal.invalid>"
    assert len(settings.secret_key) >= 32


def test_values_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "SECRET_KEY": "k" * 40,
            "PORTAL_ENV": "test",
            "SITE_URL": "https://portal.example/",
            "STRIPE_SECRET_KEY": "sk_test_x",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "STRIPE_API_BASE": "http://127.0.0.1:12111",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "SMTP_URL": "smtp://u:p@mail.example:587",
            "PORTAL_MAIL_DIR": "/srv/portal/mail",
            "PORTAL_ARGON2_TIME_COST": "2",
            "PORTAL_ARGON2_MEMORY_COST": "1024",
            "PORTAL_ARGON2_PARALLELISM": "2",
            "PORTAL_SERVE_STATIC": "0",
            "PORTAL_TRUSTED_PROXY_HOPS": "2",
            "PORTAL_MAIL_FROM": "Portal <portal@school.example>",
        }
    )
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.secret_key == "k" * 40
    assert settings.env == "test"
    assert settings.site_origin == "https://portal.example"
    assert settings.stripe_secret_key == "sk_test_x"
    assert settings.stripe_webhook_secret == "whsec_x"
    assert settings.stripe_api_base == "http://127.0.0.1:12111"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.smtp_url == "smtp://u:p@mail.example:587"
    assert settings.mail_dir == Path("/srv/portal/mail")
    assert (settings.argon2_time_cost, settings.argon2_memory_cost) == (2, 1024)
    assert settings.argon2_parallelism == 2
    assert settings.serve_static is False
    assert settings.trusted_proxy_hops == 2
    assert settings.mail_from == "Portal <portal@school.example>"


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-process-environment")
    monkeypatch.setenv("SITE_URL", "http://portal.localhost:9000")
    settings = Settings.from_env()
    assert settings.secret_key == "from-the-process-environment"
    assert settings.site_url == "http://portal.localhost:9000"


@pytest.mark.parametrize(
    ("raw", "serve"),
    [("0", False), ("false", False), ("False", False), (" NO ", False), ("off", False),
     ("1", True), ("true", True), ("", True)],
)  # fmt: skip
def test_serve_static_switch(raw: str, serve: bool) -> None:
    assert Settings.from_env({"PORTAL_SERVE_STATIC": raw}).serve_static is serve


def test_empty_values_mean_unset() -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": "", "STRIPE_SECRET_KEY": "", "PORTAL_ENV": "", "SITE_URL": ""}
    )
    assert settings.database_url == "sqlite:///portal.db"
    assert settings.stripe_secret_key is None
    assert settings.env == "development"
    assert settings.site_url == "http://localhost:8000"


# --- SITE_URL ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["development", "test"])
def test_site_url_follows_the_port_when_unset(mode: str) -> None:
    # GIVEN a portal served on port 8412 (`PORT=8412 python3 dev.py start`) and no SITE_URL
    # WHEN the settings are read
    settings = Settings.from_env({"PORTAL_ENV": mode, "PORT": "8412", "SECRET_KEY": "k"})
    # THEN links and redirects point at the port the portal serves on
    assert settings.site_origin == "http://localhost:8412"


def test_a_given_site_url_wins_over_the_port() -> None:
    settings = Settings.from_env({"PORT": "8412", "SITE_URL": "http://portal.localhost:9000"})
    assert settings.site_origin == "http://portal.localhost:9000"


@pytest.mark.parametrize("port", ["eighty", "0", "70000", "٨٠"])
def test_an_unusable_port_is_refused(port: str) -> None:
    with pytest.raises(ConfigurationError, match="PORT must be"):
        Settings.from_env({"PORT": port})


@pytest.mark.parametrize(
    "site_url",
    ["localhost:8000", "ftp://portal.example", "https://", "https://portal.example/?x=1",
     "javascript:alert(1)"],
)  # fmt: skip
def test_a_site_url_that_is_not_an_http_address_is_refused(site_url: str) -> None:
    with pytest.raises(ConfigurationError, match="SITE_URL"):
        Settings.from_env({"SITE_URL": site_url})


# --- a Stripe key needs its webhook secret, in every mode ------------------------------


@pytest.mark.parametrize("mode", ["development", "test", "production"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_a_stripe_key_without_its_webhook_secret_refuses_to_start(mode: str, how: str) -> None:
    # GIVEN a real Stripe key and no webhook secret (absent or empty)
    environ = {**PRODUCTION, "PORTAL_ENV": mode, "STRIPE_SECRET_KEY": "sk_test_real_account"}
    if how == "absent":
        del environ["STRIPE_WEBHOOK_SECRET"]
    else:
        environ["STRIPE_WEBHOOK_SECRET"] = ""
    # WHEN the settings are read
    # THEN the portal refuses to start rather than accept events signed with the public
    # development secret
    with pytest.raises(ConfigurationError, match="STRIPE_WEBHOOK_SECRET is required"):
        Settings.from_env(environ)


def test_without_a_stripe_key_the_simulator_signs_with_the_development_secret() -> None:
    assert Settings.from_env({}).stripe_webhook_secret == DEVELOPMENT_WEBHOOK_SECRET


# --- PORTAL_MAIL_FROM ----------------------------------------------------------------


@pytest.mark.parametrize(
    "mail_from",
    ["no-reply@school.example", "Student Portal <no-reply@school.example>",
     '"Portal, Office" <office@school.example>', "Prof. Ö <prof@school.example>"],
)  # fmt: skip
def test_a_sender_address_is_accepted(mail_from: str) -> None:
    assert Settings.from_env({"PORTAL_MAIL_FROM": mail_from}).mail_from == mail_from


@pytest.mark.parametrize(
    "mail_from",
    [
        pytest.param("Portal <no-reply@example.com>\nBcc: everyone@example.com", id="newline"),
        pytest.param("Portal <no-reply@example.com>\r\n", id="crlf"),
        pytest.param("Portal <no-reply@example.com>\x00", id="nul"),
        pytest.param("a@school.example, b@school.example", id="two-addresses"),
        pytest.param("Student Portal", id="no-address"),
        pytest.param("Portal <no-reply@>", id="no-domain"),
        pytest.param("Portal <no-reply@localhost>", id="bare-host"),
        pytest.param("Portal <@school.example>", id="no-local-part"),
    ],
)
def test_a_sender_address_no_mail_could_carry_refuses_to_start(mail_from: str) -> None:
    # GIVEN a sender that would break every e-mail's headers
    # WHEN the settings are read THEN the portal refuses to start, naming the setting
    with pytest.raises(ConfigurationError, match="PORTAL_MAIL_FROM"):
        Settings.from_env({"PORTAL_MAIL_FROM": mail_from})


# --- PORTAL_TRUSTED_PROXY_HOPS -----------------------------------------------------------


@pytest.mark.parametrize(("raw", "hops"), [("", 0), ("0", 0), ("1", 1), (" 2 ", 2), ("10", 10)])
def test_trusted_proxy_hops(raw: str, hops: int) -> None:
    assert Settings.from_env({"PORTAL_TRUSTED_PROXY_HOPS": raw}).trusted_proxy_hops == hops


@pytest.mark.parametrize("raw", ["-1", "two", "1.5", "11", "٢"])
def test_unusable_trusted_proxy_hops_are_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="PORTAL_TRUSTED_PROXY_HOPS must be"):
        Settings.from_env({"PORTAL_TRUSTED_PROXY_HOPS": raw})


# --- production refuses to start without its secrets ------------------------------


def test_production_with_every_secret_starts(working_folder: Path) -> None:
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production
    assert settings.secret_key == STRONG_SECRET
    assert settings.stripe_webhook_secret == "whsec_example"
    assert not (working_folder / SECRET_FILE).exists()


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY is required"),
        ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY is required"),
        ("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET is required"),
        ("DATABASE_URL", "DATABASE_URL is required"),
        ("SITE_URL", "SITE_URL is required"),
        ("SMTP_URL", "SMTP_URL is required"),
    ],
)
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_production_refuses_to_start_without(
    working_folder: Path, missing: str, message: str, how: str
) -> None:
    # GIVEN a production environment with one secret absent or empty
    environ = dict(PRODUCTION)
    if how == "absent":
        del environ[missing]
    else:
        environ[missing] = ""
    # WHEN the settings are read
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(environ)
    # THEN no development key was made up in its place
    assert not (working_folder / SECRET_FILE).exists()


def test_production_refuses_a_short_secret_key() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": "s" * 31})


def test_the_configuration_error_does_not_repeat_the_secret() -> None:
    short = "short-but-secret"
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**PRODUCTION, "SECRET_KEY": short})
    assert short not in str(raised.value)


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="PORTAL_ENV must be"):
        Settings.from_env({"PORTAL_ENV": "prod"})


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("PORTAL_ARGON2_TIME_COST", "three", "PORTAL_ARGON2_TIME_COST must be an integer"),
        ("PORTAL_ARGON2_TIME_COST", "1.5", "PORTAL_ARGON2_TIME_COST must be an integer"),
        ("PORTAL_ARGON2_TIME_COST", "0", "PORTAL_ARGON2_TIME_COST must be at least 1"),
        ("PORTAL_ARGON2_MEMORY_COST", "7", "PORTAL_ARGON2_MEMORY_COST must be at least 8"),
        ("PORTAL_ARGON2_MEMORY_COST", "64k", "PORTAL_ARGON2_MEMORY_COST must be an integer"),
        ("PORTAL_ARGON2_PARALLELISM", "-1", "PORTAL_ARGON2_PARALLELISM must be at least 1"),
    ],
)
def test_bad_integers_are_refused(name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({name: raw})


# --- the development secret key ----------------------------------------------------


def test_the_development_key_is_made_once_and_kept(working_folder: Path) -> None:
    # GIVEN a working folder without a key file
    # WHEN the settings are read twice, as two restarts would
    first = Settings.from_env({})
    second = Settings.from_env({})
    # THEN one key was generated, kept in the folder, readable only by its owner
    path = working_folder / SECRET_FILE
    assert first.secret_key == second.secret_key == path.read_text()
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_development_key_is_reused(working_folder: Path) -> None:
    (working_folder / SECRET_FILE).write_text("kept-from-an-earlier-run\n")
    assert Settings.from_env({}).secret_key == "kept-from-an-earlier-run"


def test_a_given_secret_key_wins_over_the_file(working_folder: Path) -> None:
    (working_folder / SECRET_FILE).write_text("kept-from-an-earlier-run")
    assert Settings.from_env({"SECRET_KEY": "given"}).secret_key == "given"


def test_no_key_file_when_a_secret_key_is_given(working_folder: Path) -> None:
    Settings.from_env({"SECRET_KEY": "given"})
    assert not (working_folder / SECRET_FILE).exists()


# --- database URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("documented", "driver"),
    [
        ("sqlite:///portal.db", "sqlite+aiosqlite:///portal.db"),
        ("sqlite:////var/lib/portal/portal.db", "sqlite+aiosqlite:////var/lib/portal/portal.db"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("postgresql://u:p@db:5432/portal", "postgresql+asyncpg://u:p@db:5432/portal"),
        ("postgres://u:p@db/portal", "postgresql+asyncpg://u:p@db/portal"),
        ("postgresql+asyncpg://u@db/portal", "postgresql+asyncpg://u@db/portal"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        (
            "postgresql://u:p@db/portal?sslmode=require",
            "postgresql+asyncpg://u:p@db/portal?ssl=require",
        ),
        (
            "postgres://u@db/portal?application_name=portal&sslmode=verify-full",
            "postgresql+asyncpg://u@db/portal?application_name=portal&ssl=verify-full",
        ),
    ],
)
def test_async_url(documented: str, driver: str) -> None:
    assert async_url(documented) == driver


def test_is_sqlite() -> None:
    assert is_sqlite("sqlite:///portal.db")
    assert is_sqlite("sqlite+aiosqlite:///portal.db")
    assert not is_sqlite("postgresql://u@db/portal")


async def test_a_libpq_style_url_with_sslmode_connects() -> None:
    # GIVEN the PostgreSQL URL the way hosted databases hand it out, with sslmode
    url = postgres_url()
    separator = "&" if "?" in url else "?"
    engine = create_engine(f"{url}{separator}sslmode=prefer")
    # WHEN the portal connects with it
    try:
        async with engine.connect() as connection:
            answer = (await connection.execute(text("SELECT 1"))).scalar_one()
    finally:
        await engine.dispose()
    # THEN asyncpg accepts it
    assert answer == 1
