"""The page cache and the version clock, alone."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from datetime import date

import pytest

from lib.caching import NotCacheable, Page, PageCache, VersionClock, entry_bytes
from lib.httpcache import etag_of, matches


def page(body: bytes) -> Page:
    return Page(body=body, etag=etag_of(body), media_type="application/json")


def test_the_least_recently_used_page_goes_first_when_entries_run_out() -> None:
    cache: PageCache[str, Page] = PageCache(max_entries=2, max_bytes=10_000)
    cache.put("a", page(b"a"))
    cache.put("b", page(b"b"))
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", page(b"c"))
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert len(cache) == 2


def test_pages_are_bounded_in_bytes_too() -> None:
    one = entry_bytes(0, page(b"x" * 400))
    cache: PageCache[int, Page] = PageCache(max_entries=100, max_bytes=one * 3)
    for key in range(10):
        cache.put(key, page(b"x" * 400))
    assert len(cache) == 3
    assert cache.bytes == one * 3
    # A page larger than the whole cache is not kept at all.
    cache.put(99, page(b"y" * one * 4))
    assert cache.get(99) is None
    assert len(cache) == 3


@pytest.mark.parametrize("body_bytes", [200, 2_000, 20_000])
def test_the_byte_bound_holds_for_what_the_cache_really_holds(body_bytes: int) -> None:
    # GIVEN keys shaped like the HTTP cache's (path, query with a cursor,
    # version, date) and a cache bounded to about fifty such pages
    limit = 50 * (body_bytes + 1_000)
    cache: PageCache[tuple[object, ...], Page] = PageCache(max_entries=100_000, max_bytes=limit)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # WHEN many more pages than fit are put, each made afresh
        for n in range(500):
            cursor = f"eyJrIjpbIjIwMjYtMDEtMDEiLCJpZCI6ImFiYzEyMzQ1Njc4OTBhYmNkZWYifV0{n}"
            key = (
                "catalog",
                f"/api/catalog/courses{n % 7}",
                (("cursor", cursor),),
                n,
                date.today(),
            )
            cache.put(key, page(b"x" * (body_bytes - 8) + n.to_bytes(8, "big")))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    # THEN the memory it holds stays within the bound, and its count of bytes is honest
    assert held <= limit
    assert cache.bytes >= held * 0.9


async def test_concurrent_misses_of_one_key_make_the_page_once() -> None:
    cache: PageCache[str, Page] = PageCache(max_entries=10, max_bytes=10_000)
    made = 0
    release = asyncio.Event()

    async def make() -> Page:
        nonlocal made
        made += 1
        await release.wait()
        return page(b"body")

    waiting = [asyncio.create_task(cache.get_or_make("k", make)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    pages = await asyncio.gather(*waiting)
    assert made == 1
    assert {p.body for p in pages} == {b"body"}


async def test_an_answer_not_to_keep_is_made_by_each_caller() -> None:
    cache: PageCache[str, Page] = PageCache(max_entries=10, max_bytes=10_000)
    calls = 0
    release = asyncio.Event()

    async def refuse() -> Page:
        nonlocal calls
        calls += 1
        await release.wait()
        raise NotCacheable(f"answer {calls}")

    tasks = [asyncio.create_task(cache.get_or_make("k", refuse)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, NotCacheable) for r in results)
    assert calls == 3
    assert cache.get("k") is None


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_version_is_read_again_after_its_ttl_or_a_local_write() -> None:
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        return reads

    ticks = Ticks()
    clock = VersionClock(read, ttl_seconds=0.5, monotonic=ticks)
    assert await clock.current() == 1
    ticks.now += 0.4
    assert await clock.current() == 1
    ticks.now += 0.2
    assert await clock.current() == 2
    clock.forget()
    assert await clock.current() == 3
    assert reads == 3


async def test_a_read_that_overlaps_a_local_write_is_not_kept() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    values = iter([1, 2])

    async def read() -> int:
        started.set()
        await release.wait()
        return next(values)

    clock = VersionClock(read, ttl_seconds=60, monotonic=Ticks())
    first = asyncio.create_task(clock.current())
    await started.wait()
    clock.forget()  # committed while the read was under way
    release.set()
    assert await first == 1
    assert await clock.current() == 2


async def test_with_ttl_zero_every_call_reads() -> None:
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        return 7

    clock = VersionClock(read, ttl_seconds=0)
    for _ in range(3):
        assert await clock.current() == 7
    assert reads == 3


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
    ],
)
def test_if_none_match_is_compared_weakly(header: str | None, expected: bool) -> None:
    assert matches(header, '"abc"') is expected


def test_the_etag_is_a_strong_tag_of_the_bytes() -> None:
    assert etag_of(b"a") == etag_of(b"a")
    assert etag_of(b"a") != etag_of(b"b")
    assert not etag_of(b"a").startswith("W/")


async def test_a_version_offered_by_another_read_is_kept_for_the_ttl() -> None:
    async def read() -> int:
        raise AssertionError("no read: the offered version is fresh")

    ticks = Ticks()
    clock = VersionClock(read, ttl_seconds=0.5, monotonic=ticks)
    assert clock.peek() is None
    clock.offer(7, clock.generation)
    assert clock.peek() == 7
    assert await clock.current() == 7
    clock.offer(6, clock.generation)  # an older read, finished later
    assert clock.peek() == 7
    ticks.now += 0.6
    assert clock.peek() is None


async def test_an_offer_read_across_a_local_write_is_not_kept() -> None:
    async def read() -> int:
        return 9

    clock = VersionClock(read, ttl_seconds=60, monotonic=Ticks())
    generation = clock.generation
    clock.forget()  # committed while the offering read was under way
    clock.offer(8, generation)
    assert clock.peek() is None
    assert await clock.current() == 9


async def test_with_ttl_zero_an_offer_is_not_kept() -> None:
    async def read() -> int:
        return 1

    clock = VersionClock(read, ttl_seconds=0, monotonic=Ticks())
    clock.offer(5, clock.generation)
    assert clock.peek() is None
