"""`portal run-job NAME` and `portal scheduler`, run as the installed program
against a migrated SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from functions.messages.templates import TEMPLATES
from lib.runtime import Portal
from scheduler.registry import JOBS
from tests.factories import Factory
from tests.functions.messages.support import eml_by_outbox_id, outbox_rows, parse
from tests.processes import migrated_sqlite, processes, run_portal, seeding, wait_until

# The contract in DESIGN.md: these names are called by cron jobs and Lambda schedules.
DOCUMENTED_JOBS = {
    "checkout.release_expired_holds",
    "checkout.send_payment_reminders",
    "checkout.remind_pending_checkouts",
    # Added with refunds owed by Stripe's events (README, "Paying: the flow").
    "checkout.issue_refunds",
    "notifications.deliver",
}


@dataclass
class Site:
    folder: Path
    database_url: str
    portal: Portal
    factory: Factory

    @property
    def mail_dir(self) -> Path:
        return self.folder / "mail"


@pytest.fixture
def database(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "var")


@pytest.fixture
async def site(database: str, tmp_path: Path) -> AsyncIterator[Site]:
    """The migrated database, and a portal in this process to put data in it."""
    folder = tmp_path / "site"
    async with seeding(database, folder) as (portal, factory):
        yield Site(folder, database, portal, factory)


def test_the_documented_jobs_are_registered() -> None:
    # GIVEN the registry the scheduler and run-job read
    # WHEN its names are listed
    # THEN they are the documented ones, each with an interval
    assert set(JOBS) == DOCUMENTED_JOBS
    assert all(job.every for job in JOBS.values())
    assert all(job.name == name for name, job in JOBS.items())


@pytest.mark.parametrize("name", sorted(DOCUMENTED_JOBS))
async def test_run_job_runs_one_job_and_prints_its_result(site: Site, name: str) -> None:
    # GIVEN a migrated database with nothing to do
    # WHEN the job runs once from the command line
    result = run_portal("run-job", name, database_url=site.database_url, folder=site.folder)

    # THEN it exits 0 and its last line is the job's result as JSON
    assert result.returncode == 0, result.stderr
    lines = result.json_lines()
    assert lines[-1]["job"] == name
    assert all(isinstance(value, int) for key, value in lines[-1].items() if key != "job")


async def test_run_job_delivers_a_queued_welcome(site: Site) -> None:
    # GIVEN a student who just registered
    student = await site.factory.registered(username="newcomer", email="newcomer@example.com")

    # WHEN `portal run-job notifications.deliver` runs, twice
    first = run_portal(
        "run-job", "notifications.deliver", database_url=site.database_url, folder=site.folder
    )
    second = run_portal(
        "run-job", "notifications.deliver", database_url=site.database_url, folder=site.folder
    )

    # THEN the first sent the welcome, as one .eml file, and the second sent nothing
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert first.json_lines()[-1] == {
        "job": "notifications.deliver", "sent": 1, "retrying": 0, "failed": 0, "skipped": 0,
    }  # fmt: skip
    assert second.json_lines()[-1]["sent"] == 0
    [row] = await outbox_rows(site.portal)
    files = eml_by_outbox_id(site.mail_dir)
    assert list(files) == [row.id]
    mail = parse(files[row.id][0].read_bytes())
    assert mail["To"] == student.email
    assert mail["Subject"] == TEMPLATES["auth.welcome"]({}, "")[0]


async def test_an_unknown_job_exits_2_and_lists_the_known_ones(site: Site) -> None:
    # GIVEN a name no job has
    # WHEN run-job is asked to run it
    result = run_portal(
        "run-job", "checkout.send_reminders", database_url=site.database_url, folder=site.folder
    )

    # THEN it exits 2, names it, and lists every known job on stderr
    assert result.returncode == 2
    assert "checkout.send_reminders" in result.stderr
    listed = {line.strip() for line in result.stderr.splitlines()[1:]}
    assert listed == DOCUMENTED_JOBS
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


async def test_the_scheduler_runs_the_jobs_and_stops_cleanly_on_sigterm(site: Site) -> None:
    # GIVEN a student who just registered, and no mail yet
    await site.factory.registered(username="early", email="early@example.com")
    [welcome] = await outbox_rows(site.portal)
    assert eml_by_outbox_id(site.mail_dir) == {}

    with processes(database_url=site.database_url, folder=site.folder) as group:
        # WHEN `portal scheduler` starts
        scheduler = group.start("scheduler")

        # THEN the welcome arrives in the mail folder
        async def delivered() -> bool:
            return welcome.id in eml_by_outbox_id(site.mail_dir)

        await wait_until(delivered, attempts=240, describe=group.output)
        assert scheduler.process.poll() is None, group.output()

        # WHEN it is sent SIGTERM
        stopped = scheduler.terminate()

    # THEN it stops with exit 0 after saying so, and every job had run
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    events = stopped.json_lines()
    assert events[0]["event"] == "scheduler.started"
    assert set(events[0]["jobs"]) == DOCUMENTED_JOBS
    assert events[-1] == {"event": "scheduler.stopped"}
    ran = {e["job"] for e in events if e.get("event") == "scheduler.job_done"}
    assert ran == DOCUMENTED_JOBS
    [row] = await outbox_rows(site.portal)
    assert (row.status, row.attempts) == ("sent", 1)
