"""A worker's memory as the benchmark reads it from /proc: private and
file-backed apart, so the 200 MB target is judged on the worker's own."""

from __future__ import annotations

import os

from bench.memory import Memory, largest, parse, read

STATUS = """Name:\tportal
VmHWM:\t  916000 kB
VmRSS:\t  793600 kB
RssAnon:\t  102400 kB
RssFile:\t  691200 kB
RssShmem:\t       0 kB
Threads:\t17
"""
ROLLUP = """55d0c0a00000-7ffc2b1fe000 ---p 00000000 00:00 0                          [rollup]
Rss:              793600 kB
Pss:              250880 kB
Pss_Anon:         102400 kB
"""


def test_the_status_is_split_into_private_and_file_backed_memory() -> None:
    memory = parse(STATUS, ROLLUP)
    assert memory == Memory(rss=775, private=100, file=675, shmem=0, pss=245, peak_rss=894.53125)
    assert memory.describe() == (
        "private (RssAnon) 100 MB; file-backed (RssFile) 675 MB; "
        "VmRSS 775 MB (peak 895 MB); PSS 245 MB"
    )


def test_without_a_rollup_the_pss_is_zero() -> None:
    assert parse(STATUS).pss == 0


def test_the_largest_takes_each_figure_from_any_sample() -> None:
    one, two = Memory(rss=300, private=90, file=210), Memory(rss=120, private=110, file=10)
    assert largest([one, two]) == Memory(rss=300, private=110, file=210)
    assert largest([]) == Memory()


def test_this_process_can_be_read_and_a_gone_one_reads_as_zeros() -> None:
    mine = read(os.getpid())
    assert 0 < mine.private <= mine.rss
    assert mine.file > 0
    assert mine.pss > 0
    assert read(2**22 + 1) == Memory()
