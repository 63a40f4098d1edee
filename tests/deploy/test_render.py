"""A rehearsal of render.yaml on this machine: every service built by its own
build command in a fresh virtual environment, from a clean copy of the
repository (a non-editable `pip install .`), its pre-deploy and start commands
run with PORT set, against a PostgreSQL database of its own; then checked as
Render and its users would: /api/health, production behind Render's proxies,
every scheduled job, the web app's published files.

One environment per distinct build command; pip's cache is used."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scheduler.registry import JOBS
from tests.conftest import _admin_sync, postgres_url
from tests.deploy.blueprint import ROOT, Blueprint, clean_copy, load, machine_env
from tests.functions.messages.support import SmtpServer, smtp_server
from tests.ports import free_port
from tests.processes import Running, wait_for_health

API, WORKER, SITE = "student-portal-api", "student-portal-scheduler", "student-portal-web"
# The rehearsal's fixtures (a build of each service, a database) are made once
# per module: one xdist worker runs the whole module.
pytestmark = pytest.mark.xdist_group("render-rehearsal")
BUILD_TIMEOUT_SECONDS = 900
COMMAND_TIMEOUT_SECONDS = 180
PUBLIC_HOST = "api.rehearsal.example"
# Render's proxies in front of the API: Cloudflare appends the client's address,
# Render's proxy (the socket's peer) appends Cloudflare's.
BEHIND_RENDER = {"X-Forwarded-For": "198.51.100.7, 104.22.17.40", "Host": PUBLIC_HOST}
ADMIN_PASSWORD = "rehearsal-admin-password"


@dataclass
class Deployment:
    folder: Path
    blueprint: Blueprint
    venvs: dict[str, Path]  # service name -> its built environment
    copies: dict[str, Path]  # service name -> the checkout it was built in
    built: dict[str, subprocess.CompletedProcess[str]]
    pre_deployed: dict[str, subprocess.CompletedProcess[str]]
    smtp: SmtpServer
    # A loopback port nobody listens on: the dummy Stripe key is never sent to
    # Stripe; a rehearsed call to Stripe would fail here, loudly.
    stripe_stand_in: str

    def env(self, service: str, **extra: str) -> dict[str, str]:
        venv = self.venvs.get(service)
        stripe = {"STRIPE_API_BASE": self.stripe_stand_in} if venv is not None else {}
        return {**machine_env(venv), **self.blueprint.env(service), **stripe, **extra}

    def run(self, service: str, command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return shell(command, cwd=self.copies[service], env=self.env(service, **extra))

    def start(self, service: str, command: str, **extra: str) -> Running:
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        out = logs / f"{service}-{len(list(logs.iterdir()))}.log"
        with out.open("wb") as log:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.copies[service],
                env=self.env(service, **extra),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return Running(service, process, out, out)


def shell(command: str, *, cwd: Path, env: dict[str, str], timeout: int = COMMAND_TIMEOUT_SECONDS
          ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stop(running: Running) -> int:
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
    try:
        return running.process.wait(timeout=COMMAND_TIMEOUT_SECONDS)
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


@pytest.fixture(scope="module")
def rehearsal_database() -> Iterator[str]:
    """An empty PostgreSQL database of this rehearsal's own, as Render's would be."""
    own = postgres_url()
    parts = urllib.parse.urlsplit(own)
    name = f"{parts.path.lstrip('/')}_render"
    _admin_sync(own, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        _admin_sync(own, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def deployment(
    rehearsal_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """Each service built in a clean copy of its own, then every pre-deploy command run."""
    folder = tmp_path_factory.mktemp("render")
    with smtp_server() as smtp:
        blueprint = Blueprint(
            load(),
            database_url=rehearsal_database,
            dashboard={
                "SITE_URL": "https://portal.rehearsal.example",
                "STRIPE_SECRET_KEY": "sk_test_rehearsal_never_sent",
                "STRIPE_WEBHOOK_SECRET": "whsec_rehearsal",
                "SMTP_URL": smtp.url,
            },
        )
        stripe = f"http://127.0.0.1:{free_port()}"
        deployment = Deployment(folder, blueprint, {}, {}, {}, {}, smtp, stripe)
        _build(deployment)
        for service in blueprint.services:
            if "preDeployCommand" in service:
                deployment.pre_deployed[service["name"]] = deployment.run(
                    service["name"], service["preDeployCommand"]
                )
        yield deployment


def _build(deployment: Deployment) -> None:
    environments: dict[str, Path] = {}  # build command -> its virtual environment
    for n, service in enumerate(deployment.blueprint.services):
        name, command = service["name"], service["buildCommand"]
        copy = clean_copy(deployment.folder / f"checkout-{n}-{name}")
        deployment.copies[name] = copy
        if service["runtime"] != "python":
            deployment.built[name] = deployment.run(name, command)
            continue
        if command not in environments:
            venv = deployment.folder / f"venv-{len(environments)}"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            deployment.venvs[name] = venv
            result = shell(
                command, cwd=copy, env=deployment.env(name), timeout=BUILD_TIMEOUT_SECONDS
            )
            deployment.built[name] = result
            environments[command] = venv
        deployment.venvs[name] = environments[command]
        deployment.built.setdefault(name, deployment.built[_built_by(deployment, command)])


def _built_by(deployment: Deployment, command: str) -> str:
    return next(
        s["name"] for s in deployment.blueprint.services
        if s["buildCommand"] == command and s["name"] in deployment.built
    )  # fmt: skip


# --- build and pre-deploy -----------------------------------------------------------------


def test_every_build_succeeds_without_the_repository_on_the_path(deployment: Deployment) -> None:
    for name, result in deployment.built.items():
        assert result.returncode == 0, f"{name}\n{result.stdout}\n{result.stderr}"
    # The package runs from the environment, not from the checkout: no static/ beside it.
    for name in (API, WORKER):
        where = shell(
            "cd / && python -c 'import functions, pathlib; print(pathlib.Path(functions.__file__)"
            ".resolve().parent.parent)'",
            cwd=deployment.folder,
            env=deployment.env(name),
        )
        installed = Path(where.stdout.strip())
        assert "site-packages" in installed.parts, where
        assert not (installed / "static").exists()


def test_the_pre_deploy_migration_brings_the_schema_up_to_date(deployment: Deployment) -> None:
    result = deployment.pre_deployed[API]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout
    again = deployment.run(API, deployment.blueprint.service(API)["preDeployCommand"])
    assert again.returncode == 0, again.stderr


# --- the API ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(deployment: Deployment) -> Iterator[str]:
    """The API's start command with PORT set, as Render runs it (bound to loopback
    here instead of every interface)."""
    port = free_port()
    command = deployment.blueprint.service(API)["startCommand"]
    server = deployment.start(API, command, PORT=str(port), HOST="127.0.0.1")
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(server, base_url)
        yield base_url
    finally:
        code = stop(server)
        assert code == 0, server.output()


def test_the_api_answers_its_health_check(deployment: Deployment, api: str) -> None:
    path = deployment.blueprint.service(API)["healthCheckPath"]
    response = httpx.get(f"{api}{path}", headers={**BEHIND_RENDER, "X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_production_behind_the_proxy_sends_http_to_https(api: str) -> None:
    # WHEN a browser asks over plain http (the proxy says so)
    response = httpx.get(
        f"{api}/api/catalog/courses?limit=1", headers={**BEHIND_RENDER, "X-Forwarded-Proto": "http"}
    )
    # THEN it is sent to the same address over https
    assert response.status_code == 308
    assert response.headers["location"] == f"https://{PUBLIC_HOST}/api/catalog/courses?limit=1"
    # AND so is a request that names no scheme at all
    assert httpx.get(f"{api}/api/catalog/courses").status_code == 308
    # BUT the health check, which Render sends without one, gets the database's answer
    assert httpx.get(f"{api}/api/health").status_code == 200


def test_production_over_https_pins_https_and_sets_a_secure_refresh_cookie(
    deployment: Deployment, api: str
) -> None:
    # GIVEN an administrator made with the CLI of the deployed API
    created = deployment.run(
        API, "portal create-admin --username rehearsal --email rehearsal@school.example",
        PORTAL_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    # WHEN they sign in over https through the proxies
    response = httpx.post(
        f"{api}/api/auth/login",
        json={"login": "rehearsal", "password": ADMIN_PASSWORD},
        headers={**BEHIND_RENDER, "X-Forwarded-Proto": "https"},
    )
    # THEN the answer pins https and the refresh cookie is Secure, HttpOnly and Strict
    assert response.status_code == 200, response.text
    assert "max-age=" in response.headers["strict-transport-security"]
    cookie = response.headers["set-cookie"]
    assert {"secure", "httponly", "samesite=strict"} <= {
        part.strip().lower() for part in cookie.split(";")
    }, cookie


# --- the scheduler ------------------------------------------------------------------------


def register(api: str, username: str) -> None:
    response = httpx.post(
        f"{api}/api/auth/register",
        json={"username": username, "email": f"{username}@school.example",
              "password": "a-long-enough-secret", "full_name": "Rehearsal Student"},
        headers={**BEHIND_RENDER, "X-Forwarded-Proto": "https"},
    )  # fmt: skip
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("name", sorted(JOBS))
def test_the_worker_runs_each_job_once(deployment: Deployment, api: str, name: str) -> None:
    # GIVEN the worker's environment (built as the worker builds) and a new student
    register(api, f"student{sorted(JOBS).index(name)}")
    # WHEN one job runs, as a cron job would run it
    result = deployment.run(WORKER, f"portal run-job {shlex.quote(name)}")
    # THEN it succeeds and prints its result
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["job"] == name
    if name == "notifications.deliver":
        # AND the welcome went out over the SMTP server the dashboard names
        assert deployment.smtp.received, result.stdout


def test_the_workers_start_command_runs_every_job(deployment: Deployment) -> None:
    command = deployment.blueprint.service(WORKER)["startCommand"]
    scheduler = deployment.start(WORKER, command)

    def ran() -> set[str]:
        lines = scheduler.stdout.read_text().splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        return {e["job"] for e in events if e.get("event") == "scheduler.job_done"}

    try:
        for _ in range(COMMAND_TIMEOUT_SECONDS * 4):
            if ran() == set(JOBS) or scheduler.process.poll() is not None:
                break
            try:
                scheduler.process.wait(timeout=0.25)  # paces the polling
            except subprocess.TimeoutExpired:
                continue
        assert ran() == set(JOBS), scheduler.output()
    finally:
        code = stop(scheduler)
    assert code == 0, scheduler.output()
    assert '"event": "scheduler.stopped"' in scheduler.output()


# --- the static site ----------------------------------------------------------------------


def published(deployment: Deployment) -> Path:
    site = deployment.blueprint.service(SITE)
    return (deployment.copies[SITE] / site["staticPublishPath"]).resolve()


def test_the_static_site_publishes_the_web_app_with_the_same_origin_api(
    deployment: Deployment,
) -> None:
    result = deployment.built[SITE]
    assert result.returncode == 0, result.stdout + result.stderr
    folder = published(deployment)
    tracked = {p.relative_to(ROOT / "static") for p in (ROOT / "static").rglob("*") if p.is_file()}
    assert {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()} >= tracked
    assert (folder / "js" / "config.js").read_text() == 'export const API_BASE = "";\n'


@pytest.mark.parametrize(
    ("given", "written"),
    [("https://api.rehearsal.example", "https://api.rehearsal.example"),
     ("https://api.rehearsal.example/", "https://api.rehearsal.example")],
)  # fmt: skip
def test_the_static_build_writes_the_api_base_it_is_given(
    deployment: Deployment, given: str, written: str
) -> None:
    command = deployment.blueprint.service(SITE)["buildCommand"]
    result = deployment.run(SITE, command, PORTAL_API_BASE=given)
    assert result.returncode == 0, result.stderr
    config = (published(deployment) / "js" / "config.js").read_text()
    assert config == f'export const API_BASE = "{written}";\n'


@pytest.mark.parametrize("given", ['https://x.example";alert(1);//', "javascript:alert(1)"])
def test_the_static_build_refuses_an_api_base_that_is_no_origin(
    deployment: Deployment, given: str
) -> None:
    command = deployment.blueprint.service(SITE)["buildCommand"]
    result = deployment.run(SITE, command, PORTAL_API_BASE=given)
    assert result.returncode != 0
    assert "PORTAL_API_BASE" in result.stderr
