"""Browser tests against a real `portal serve` on a fresh SQLite database.

The server runs for the whole session; every test gets its own browser
context (its own cookies), and tests create their own uniquely named users.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.e2e.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CatalogData,
    PageFactory,
)
from tests.ports import free_port

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HEALTH_ATTEMPTS = 150
HEALTH_INTERVAL_SECONDS = 0.2
COMMAND_TIMEOUT_SECONDS = 120

# Settings that would point the server somewhere outside this test run.
_OUTSIDE_SETTINGS = (
    "PORTAL_ENV",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "REDIS_URL",
    "SMTP_URL",
    "PORTAL_SERVE_STATIC",
    "PORTAL_MAIL_FROM",
    "PORTAL_SIMULATOR_DB",
)

expect.set_options(timeout=10_000)


def _portal_command() -> Path:
    return Path(sys.executable).parent / "portal"


def _run(args: list[str], *, env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(args[1:])} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )


def _is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local server
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    for _ in range(HEALTH_ATTEMPTS):
        if _is_healthy(f"{base_url}/api/health"):
            return
        try:
            # Paces the polling and notices at once when the server has died.
            code = process.wait(timeout=HEALTH_INTERVAL_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"portal serve exited with {code}:\n{log_path.read_text()}", pytrace=False)
    pytest.fail(f"portal serve did not become healthy:\n{log_path.read_text()}", pytrace=False)


@dataclass(frozen=True)
class Server:
    base_url: str
    log_path: Path
    env: dict[str, str]
    workdir: Path

    def run(self, *args: str, **extra_env: str) -> None:
        """Runs one `portal` command against this server's database."""
        _run([str(_portal_command()), *args], env={**self.env, **extra_env}, cwd=self.workdir)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("portal")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key not in _OUTSIDE_SETTINGS}
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'e2e.db'}",
        PORTAL_MAIL_DIR=str(workdir / "mail"),
        # The payment simulator keeps its sessions apart from any developer's.
        PORTAL_SIMULATOR_DB=str(workdir / "stripe-simulator.db"),
        SECRET_KEY="e2e-secret-key-0123456789abcdef0123456789",
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST="8192",
        SITE_URL=base_url,
        # Every browser test signs up from 127.0.0.1.
        PORTAL_SIGNUPS_PER_ADDRESS_PER_HOUR="1000",
    )
    portal = str(_portal_command())
    _run([portal, "migrate"], env=env, cwd=workdir)
    _run(
        [portal, "create-admin", "--username", ADMIN_USERNAME, "--email", ADMIN_EMAIL],
        env={**env, "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD},
        cwd=workdir,
    )

    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [portal, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_healthy(process, base_url, log_path)
            yield Server(base_url=base_url, log_path=log_path, env=env, workdir=workdir)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    options: dict[str, Any] = {"args": CHROMIUM_ARGS}
    if SYSTEM_CHROMIUM.exists():
        options["executable_path"] = str(SYSTEM_CHROMIUM)
    browser = playwright_instance.chromium.launch(**options)
    yield browser
    browser.close()


@dataclass
class PageProblems:
    """Script errors and CSP violations seen by a page: both are bugs."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.errors.append(f"console: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")


@pytest.fixture
def page_factory(browser: Browser, server: Server) -> Iterator[PageFactory]:
    contexts = []
    problems = PageProblems()

    def new_page(**context_options: Any) -> Page:
        context = browser.new_context(base_url=server.base_url, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        return page

    yield new_page
    for context in contexts:
        context.close()
    assert problems.errors == [], "\n".join(problems.errors)


@pytest.fixture
def page(page_factory: PageFactory) -> Page:
    return page_factory()


@pytest.fixture
def admin_api(playwright_instance: Playwright, server: Server) -> Iterator[APIRequestContext]:
    """An API client signed in as the administrator, apart from any browser page."""
    anonymous = playwright_instance.request.new_context(base_url=server.base_url)
    signed_in = anonymous.post(
        "/api/auth/login", data={"login": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    )
    assert signed_in.ok, signed_in.text()
    token = signed_in.json()["access_token"]
    anonymous.dispose()
    context = playwright_instance.request.new_context(
        base_url=server.base_url, extra_http_headers={"Authorization": f"Bearer {token}"}
    )
    yield context
    context.dispose()


@pytest.fixture
def catalog(
    playwright_instance: Playwright, server: Server, admin_api: APIRequestContext
) -> Iterator[CatalogData]:
    """Makes users, courses and enrollments through the API for one test."""
    data = CatalogData(playwright_instance, server.base_url, admin_api)
    yield data
    data.close()
