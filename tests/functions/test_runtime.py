"""functions.runtime.build_portal: the one wiring place. The scheduler, the CLI
and the Lambda functions get the whole runtime, payments included, without the
Starlette web app (which needs the static/ folder a `pip install .` lacks)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from lib.migrate import upgrade
from lib.payments.gateway import LineItem
from lib.runtime import Portal
from scheduler.registry import JOBS
from tests.functions.checkout.support import recorded_events, simulator_of
from tests.processes import portal_env

TIMEOUT_SECONDS = 120

# A process in which the web app cannot be built, as where the package is
# installed without the repository's static/ folder; and proof afterwards that
# nothing imported it.
WITHOUT_WEB_APP = """
import sys
sys.modules["starlette.staticfiles"] = None
from functions.cli import main
code = main(sys.argv[1:])
built = sorted(m for m in ("functions.asgi", "functions.router") if m in sys.modules)
assert not built, f"the web app was imported: {built}"
raise SystemExit(code)
"""


@pytest.mark.parametrize("name", sorted(JOBS))
def test_run_job_needs_no_web_app(tmp_path: Path, name: str) -> None:
    # GIVEN a migrated database, the payment simulator (no Stripe key) and a
    # process where the web app cannot be built
    database_url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(database_url)

    # WHEN `portal run-job NAME` runs there
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_WEB_APP, "run-job", name],
        cwd=tmp_path,
        env=portal_env(database_url=database_url, folder=tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )

    # THEN the job ran and printed its result, and the web app was never imported
    assert result.returncode == 0, result.stderr
    assert f'"job": "{name}"' in result.stdout.splitlines()[-1]


async def test_the_simulator_reaches_the_webhook_without_the_web_app(portal: Portal) -> None:
    # GIVEN a runtime built as the scheduler builds it (no web app), on the simulator,
    # and a Checkout Session that names no payment of ours
    session = await portal.payments.create_checkout_session(
        payment_id="payment-nobody-made",
        lines=[LineItem("Pottery", 4500, "usd")],
        customer_email="student@example.com",
        success_url="http://testserver/ok",
        cancel_url="http://testserver/cancel",
        expires_at=portal.clock.now() + timedelta(minutes=30),
        idempotency_key="runtime-test-1",
    )

    # WHEN a job's Stripe call makes an event (an expiry) and the simulator delivers it
    await portal.payments.expire_session(session.id)
    delivered = await simulator_of(portal).deliver_pending()

    # THEN the event reached this process's webhook handling, verified and recorded
    assert delivered == 1
    assert [e.type for e in await recorded_events(portal)] == ["checkout.session.expired"]


def test_the_runtime_cannot_be_changed_once_built(portal: Portal) -> None:
    # GIVEN a built runtime
    # WHEN code tries to swap a part of it THEN it is refused
    with pytest.raises(dataclasses.FrozenInstanceError):
        portal.mailer = portal.mailer  # type: ignore[misc]
