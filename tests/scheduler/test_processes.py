"""Two `portal scheduler` processes and `portal run-job` started together on one
database: every reminder is queued once and every message is sent once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lib.clock import FrozenClock
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.messages.support import eml_by_outbox_id, eml_files, outbox_rows
from tests.processes import processes, wait_until

RESERVATIONS = 10
REGISTERED = 10
QUEUED = 60
# A welcome per registration, the queued ones, and per reservation a "due in
# 3 days" and a "finish your checkout" reminder.
EXPECTED = REGISTERED + QUEUED + 2 * RESERVATIONS


@pytest.fixture
def clock() -> FrozenClock:
    # The `portal` processes run on the real clock: the data here is made five
    # days before it, so that 7-day reservations are due in 2 days for them.
    return FrozenClock(datetime.now(UTC) - timedelta(days=5))


async def test_schedulers_and_run_jobs_together_send_everything_once(
    factory: Factory, portal: Portal, database_url: str, tmp_path: Path
) -> None:
    # GIVEN reservations due in two days (a 3-day reminder and an unfinished-checkout
    # reminder due for each), new registrations and many queued messages
    payments = [await factory.reserved(payment_due_days=7) for _ in range(RESERVATIONS)]
    for _ in range(REGISTERED):
        await factory.registered()
    students = [await factory.user() for _ in range(4)]
    for n in range(QUEUED):
        await factory.queued(recipient=students[n % len(students)])
    assert all(p.due_at - datetime.now(UTC) < timedelta(days=3) for p in payments)
    mail_dir = tmp_path / "processes" / "mail"

    with processes(database_url=database_url, folder=tmp_path / "processes") as group:
        # WHEN two schedulers and three one-off jobs start at the same moment
        schedulers = [group.start("scheduler"), group.start("scheduler")]
        names = [
            "notifications.deliver",
            "checkout.send_payment_reminders",
            "checkout.remind_pending_checkouts",
        ]
        one_offs = [group.start("run-job", name) for name in names]

        # THEN the one-off jobs succeed
        for name, job in zip(names, one_offs, strict=True):
            finished = job.finish()
            assert finished.returncode == 0, group.output()
            assert finished.json_lines()[-1]["job"] == name

        # AND every message is queued and sent
        async def all_sent() -> bool:
            rows = await outbox_rows(portal)
            return len(rows) >= EXPECTED and all(r.status == "sent" for r in rows)

        await wait_until(all_sent, attempts=360, describe=group.output)
        assert all(s.process.poll() is None for s in schedulers), group.output()

        # WHEN the schedulers are told to stop
        stopped = [s.terminate() for s in schedulers]

    # THEN they exit cleanly
    assert [s.returncode for s in stopped] == [0, 0], group.output()
    # AND each reminder was queued once per payment
    rows = await outbox_rows(portal)
    assert len(rows) == EXPECTED
    reminders = Counter(
        (r.kind, r.payload["payment_id"]) for r in rows if r.kind.startswith("checkout.")
    )
    assert reminders == Counter(
        {(kind, p.id): 1 for p in payments
         for kind in ("checkout.payment_due_soon", "checkout.checkout_unfinished")}
    )  # fmt: skip
    assert {r.payload["days"] for r in rows if r.kind == "checkout.payment_due_soon"} == {3}
    # AND every message has exactly one .eml file, and no file belongs to no message
    files = eml_by_outbox_id(mail_dir)
    assert sorted(files) == sorted(r.id for r in rows)
    duplicated = {message_id: len(paths) for message_id, paths in files.items() if len(paths) > 1}
    assert duplicated == {}
    assert len(eml_files(mail_dir)) == EXPECTED
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
