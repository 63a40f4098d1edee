"""Configuration, read from the environment only."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from email.errors import InvalidHeaderDefect
from email.headerregistry import Address
from email.policy import default as email_policy
from pathlib import Path
from urllib.parse import urlsplit

from lib.errors import ConfigurationError

DEVELOPMENT_WEBHOOK_SECRET = "whsec_development_only"  # noqa: S105 - a public dev value
DEFAULT_MAIL_FROM = "Student Portal <no-reply@student-portal.invalid>"
DEFAULT_PORT = 8000
_DEV_SECRET_FILE = ".portal-secret-key"  # noqa: S105 - a file name, not a secret
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    env: str = "development"
    site_url: str = f"http://localhost:{DEFAULT_PORT}"
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str = DEVELOPMENT_WEBHOOK_SECRET
    stripe_api_base: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_dir: Path = Path("var/mail")
    reminder_days: tuple[int, ...] = (3, 1)
    mail_from: str = DEFAULT_MAIL_FROM
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 64 * 1024
    argon2_parallelism: int = 4
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    signups_per_address_per_hour: int = 10
    max_body_bytes: int = 1024 * 1024
    checkout_hold_minutes: int = 30
    simulator_db: Path = Path("var/stripe-simulator.db")
    simulator_auto_deliver: bool = True
    serve_static: bool = True
    # How many proxies in front of the portal append to X-Forwarded-For; 0 means
    # none: the socket's peer is the client and forwarded headers are ignored.
    trusted_proxy_hops: int = 0
    # Answers carry `X-Portal-Statements`: how many SQL statements they cost
    # (tests and the benchmark; off in production).
    count_statements: bool = False
    # How long a process may answer anonymous catalog reads from its page cache
    # before it reads the catalog version again (0: on every request).
    catalog_version_ttl_ms: int = 500
    page_cache_entries: int = 2000
    page_cache_bytes: int = 32 * 1024 * 1024

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def site_origin(self) -> str:
        return self.site_url.rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mode = _mode(env)
        production = mode == "production"
        if production and not env.get("DATABASE_URL"):
            raise ConfigurationError("DATABASE_URL is required when PORTAL_ENV=production")
        secret_key = _secret_key(env, production=production)
        stripe_key, webhook_secret = _stripe(env, production=production)
        if production and not env.get("SMTP_URL"):
            # Without it e-mail would be written to the instance's own disk,
            # which a hosted service does not keep: nobody would ever get any.
            raise ConfigurationError("SMTP_URL is required when PORTAL_ENV=production")
        return cls(
            database_url=env.get("DATABASE_URL") or "sqlite:///portal.db",
            secret_key=secret_key,
            env=mode,
            site_url=_site_url(env, production=production),
            stripe_secret_key=stripe_key,
            stripe_webhook_secret=webhook_secret,
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            redis_url=env.get("REDIS_URL") or None,
            smtp_url=env.get("SMTP_URL") or None,
            mail_dir=Path(env.get("PORTAL_MAIL_DIR") or "var/mail"),
            # Server processes that share this file share the simulator's
            # sessions and events, as they would share Stripe.
            simulator_db=Path(env.get("PORTAL_SIMULATOR_DB") or "var/stripe-simulator.db"),
            reminder_days=_days(env.get("PORTAL_REMINDER_DAYS", "3,1")),
            mail_from=_mail_from(env.get("PORTAL_MAIL_FROM") or DEFAULT_MAIL_FROM),
            argon2_time_cost=_int(env, "PORTAL_ARGON2_TIME_COST", 3, minimum=1),
            argon2_memory_cost=_int(env, "PORTAL_ARGON2_MEMORY_COST", 64 * 1024, minimum=8),
            argon2_parallelism=_int(env, "PORTAL_ARGON2_PARALLELISM", 4, minimum=1),
            serve_static=_flag(env, "PORTAL_SERVE_STATIC", default=True),
            count_statements=_flag(env, "PORTAL_COUNT_STATEMENTS", default=False),
            checkout_hold_minutes=_int(env, "PORTAL_CHECKOUT_HOLD_MINUTES", 30, minimum=30),
            catalog_version_ttl_ms=_int(
                env, "PORTAL_CATALOG_VERSION_TTL_MS", 500, minimum=0, maximum=60_000
            ),
            page_cache_entries=_int(env, "PORTAL_PAGE_CACHE_ENTRIES", 2000, minimum=0),
            page_cache_bytes=_int(env, "PORTAL_PAGE_CACHE_MB", 32, minimum=0) * 1024 * 1024,
            trusted_proxy_hops=_int(env, "PORTAL_TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=10),
            signups_per_address_per_hour=_int(
                env, "PORTAL_SIGNUPS_PER_ADDRESS_PER_HOUR", 10, minimum=1
            ),
        )


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in {"0", "false", "no", "off"}


def _mode(env: Mapping[str, str]) -> str:
    mode = env.get("PORTAL_ENV", "development").strip() or "development"
    if mode not in {"development", "production", "test"}:
        raise ConfigurationError(
            f"PORTAL_ENV must be development, production or test, not {mode!r}"
        )
    return mode


def _secret_key(env: Mapping[str, str], *, production: bool) -> str:
    secret_key = env.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigurationError("SECRET_KEY is required when PORTAL_ENV=production")
        return _development_secret_key()
    if production and len(secret_key) < 32:
        raise ConfigurationError("SECRET_KEY must be at least 32 characters in production")
    return secret_key


def _stripe(env: Mapping[str, str], *, production: bool) -> tuple[str | None, str]:
    """The Stripe key and the webhook secret. The development secret is public:
    it may only sign the built-in simulator's events, never a real account's."""
    stripe_key = env.get("STRIPE_SECRET_KEY") or None
    webhook_secret = env.get("STRIPE_WEBHOOK_SECRET", "")
    if production and not stripe_key:
        raise ConfigurationError("STRIPE_SECRET_KEY is required when PORTAL_ENV=production")
    if stripe_key and not webhook_secret:
        raise ConfigurationError(
            "STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set"
            + (" (PORTAL_ENV=production)" if production else "")
            + ": copy the signing secret of the webhook endpoint from Stripe"
        )
    return stripe_key, webhook_secret or DEVELOPMENT_WEBHOOK_SECRET


def _site_url(env: Mapping[str, str], *, production: bool) -> str:
    raw = (env.get("SITE_URL") or "").strip()
    if not raw:
        if production:
            raise ConfigurationError("SITE_URL is required when PORTAL_ENV=production")
        # The local portal serves the web app itself: links and redirects follow
        # the port it serves on (`PORT`, which `portal serve --port` also sets).
        port = _int(env, "PORT", DEFAULT_PORT, minimum=1, maximum=65535)
        return f"http://localhost:{port}"
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(f"SITE_URL must be an http(s) address, not {raw!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError("SITE_URL must not carry a query or a fragment")
    return raw


def _mail_from(raw: str) -> str:
    # Checked at start: a bad sender (a newline starts a header of its own)
    # would otherwise make every e-mail fail, one by one.
    usage = 'PORTAL_MAIL_FROM must be one address such as "Portal <no-reply@example.org>"'
    if any(ord(char) < 32 or ord(char) == 127 for char in raw):
        raise ConfigurationError(f"{usage}, without control characters or line breaks")
    header = email_policy.header_factory("From", raw.strip())
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    broken = any(isinstance(defect, InvalidHeaderDefect) for defect in header.defects)
    if broken or len(addresses) != 1:
        raise ConfigurationError(usage)
    [address] = addresses
    if not address.username or not _DOMAIN.match(address.domain):
        raise ConfigurationError(usage)
    return raw.strip()


def _int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isascii() or not raw.strip().lstrip("-").isdigit():
        raise ConfigurationError(f"{name} must be an integer, not {raw!r}")
    value = int(raw)
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum}")
    return value


def _days(raw: str) -> tuple[int, ...]:
    try:
        days = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True))
    except ValueError:
        raise ConfigurationError(
            f"PORTAL_REMINDER_DAYS must be whole days separated by commas, not {raw!r}"
        ) from None
    if any(d < 1 for d in days):
        raise ConfigurationError("PORTAL_REMINDER_DAYS must be at least 1 day each")
    return days


def _development_secret_key() -> str:
    # A stable key across restarts keeps development sessions alive; it never
    # leaves the working folder and production refuses to start without one.
    path = Path(_DEV_SECRET_FILE)
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or key
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
