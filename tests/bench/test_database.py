"""The benchmark's databases: each run starts from nothing."""

from __future__ import annotations

from pathlib import Path

from bench.database import fresh_database


def test_a_sqlite_run_again_in_the_same_folder_starts_from_an_empty_file(tmp_path: Path) -> None:
    # GIVEN the files an earlier run left in the folder (seeded rows included)
    for name in ("storm.db", "storm.db-wal", "storm.db-shm"):
        (tmp_path / name).write_bytes(b"rows of an earlier run")
    # WHEN a fresh database of that name is asked for
    with fresh_database(None, tmp_path, "storm") as url:
        # THEN it is that file, and nothing of the earlier run is left to collide with
        assert url == f"sqlite:///{tmp_path / 'storm.db'}"
        assert sorted(p.name for p in tmp_path.iterdir()) == []
