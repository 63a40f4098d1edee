"""The request kinds the benchmark measures, each with its plan of varied
requests (many users, many pages and courses) and its target from issue 9."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

import httpx

from bench.load import Line
from bench.seed import WORDS, Seeded
from bench.servers import SECRET
from lib.security import AccessTokens, Role

PLAN_LINES = 4000
CATALOG = "/api/catalog/courses"
CART = "/api/checkout/cart/items"


@dataclass(frozen=True)
class Target:
    p99_ms: float
    ceiling_ratio: float = 0.0

    def describe(self) -> str:
        ratio = f", ≥ {self.ceiling_ratio:g}x ceiling" if self.ceiling_ratio else ""
        return f"p99 < {self.p99_ms:g} ms{ratio}"


READ = Target(100)
WRITE = Target(250)


@dataclass(frozen=True)
class Kind:
    name: str
    target: Target
    accepted: tuple[int, ...] = (200,)
    # Each line once (a checkout empties its cart): see bench/lua/once.lua.
    once: bool = False
    pipelined: int = 1


KINDS = (
    Kind("health", READ),
    Kind("catalog page (anonymous)", Target(100, 0.3)),
    Kind("catalog page (signed in)", Target(100, 0.15)),
    Kind("search q=physics", READ),
    Kind("filtered listing", READ),
    Kind("course detail", Target(100, 0.15)),
    Kind("my enrollments", READ),
    Kind("/api/auth/me", READ),
    Kind("cart add + remove", WRITE, accepted=(200, 201, 204), pipelined=2),
    Kind("checkout (simulator)", WRITE, accepted=(201,), once=True),
    Kind("payments list", READ),
    Kind("notifications list", READ),
    Kind("unread count", READ),
    Kind("mark notification read", WRITE),
)


class Plans:
    """Request lines per kind over one seeded database. Checkouts consume
    students (one each), so each run takes a fresh share of them."""

    def __init__(self, seeded: Seeded, base_url: str, *, runs: int, pages: int = 5) -> None:
        self.seeded, self.base_url, self.depth = seeded, base_url, pages
        self.rng = random.Random(3)
        tokens = AccessTokens(SECRET, ttl=timedelta(hours=6))
        now = datetime.now(UTC)
        self.token: Callable[[str], str] = lambda user: tokens.issue(
            user_id=user, role=Role.STUDENT, now=now
        )[0]
        self.bench_tokens = {u: self.token(u) for u in seeded.bench_users}
        self.payer_share = len(seeded.payers) // max(1, runs)
        self.payers_used = 0
        self.pages: dict[str, list[str]] = {}

    def lines(self, kind: Kind) -> list[Line]:
        builders: dict[str, Callable[[], Iterator[Line]]] = {
            "health": lambda: self.repeat(lambda: Line("GET", "/api/health")),
            "catalog page (anonymous)": lambda: self.catalog("", signed_in=False),
            "catalog page (signed in)": lambda: self.catalog("", signed_in=True),
            "search q=physics": lambda: self.catalog("q=physics", signed_in=False),
            "filtered listing": self.filtered,
            "course detail": lambda: self.repeat(
                lambda: Line("GET", f"{CATALOG}/{self.rng.choice(self.seeded.course_ids)}")
            ),
            "my enrollments": lambda: self.signed_in("/api/catalog/enrollments"),
            "/api/auth/me": lambda: self.signed_in("/api/auth/me"),
            "cart add + remove": self.cart,
            "checkout (simulator)": self.checkouts,
            "payments list": lambda: self.signed_in("/api/checkout/payments"),
            "notifications list": lambda: self.signed_in("/api/messages/notifications"),
            "unread count": lambda: self.signed_in("/api/messages/notifications/unread"),
            "mark notification read": self.mark_read,
        }
        return list(islice(builders[kind.name](), PLAN_LINES))

    def repeat(self, make: Callable[[], Line]) -> Iterator[Line]:
        while True:
            yield make()

    def user_token(self) -> tuple[str, str]:
        user = self.rng.choice(self.seeded.bench_users)
        return user, self.bench_tokens[user]

    def signed_in(self, path: str) -> Iterator[Line]:
        while True:
            yield Line("GET", path, self.user_token()[1])

    def catalog(self, query: str, *, signed_in: bool) -> Iterator[Line]:
        sorts = ["", "sort=title", "sort=-starts_on", "sort=price"]
        paths = [p for s in sorts for p in self.walk("&".join(x for x in (query, s) if x))]
        while True:
            token = self.user_token()[1] if signed_in else None
            yield Line("GET", self.rng.choice(paths), token)

    def filtered(self) -> Iterator[Line]:
        instructor = self.rng.choice(self.seeded.instructor_ids)
        queries = [
            "status=open", "status=full", "weekday=monday", "weekday=thursday&status=open",
            "min_price=1000&max_price=15000", "max_price=0", f"instructor={instructor}",
            f"q={self.rng.choice(WORDS)}&status=open", "status=open&sort=-price",
        ]  # fmt: skip
        paths = [p for q in queries for p in self.walk(q, pages=min(3, self.depth))]
        while True:
            yield Line("GET", self.rng.choice(paths))

    def walk(self, query: str, *, pages: int | None = None) -> list[str]:
        """The first pages of a listing, each by the cursor the API handed out."""
        if query in self.pages:
            return self.pages[query]
        paths = [f"{CATALOG}?{query}" if query else CATALOG]
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while len(paths) < (pages or self.depth):
                answer = client.get(paths[-1]).raise_for_status().json()
                if not answer.get("next_cursor"):
                    break
                paths.append(f"{CATALOG}?{query}&cursor={answer['next_cursor']}".replace("?&", "?"))
        self.pages[query] = paths
        return paths

    def cart(self) -> Iterator[Line]:
        # Line k puts shop course k // S in shopper k % S's cart and takes it
        # out again, pipelined on one connection: no two lines in flight touch
        # the same cart item, and every cart ends as it began.
        shoppers, courses = self.seeded.shoppers, self.seeded.shop_courses
        tokens = [self.token(s) for s in shoppers]
        for k in range(len(shoppers) * len(courses)):
            token, course = tokens[k % len(shoppers)], courses[k // len(shoppers)]
            remove = Line("DELETE", f"{CART}/{course}", token)
            yield Line("POST", CART, token, json.dumps({"course_id": course}), then=remove)

    def checkouts(self) -> Iterator[Line]:
        share = self.seeded.payers[self.payers_used : self.payers_used + self.payer_share]
        self.payers_used += len(share)
        for payer in share:
            yield Line("POST", "/api/checkout", self.token(payer))

    def mark_read(self) -> Iterator[Line]:
        while True:
            user, token = self.user_token()
            notice = self.rng.choice(self.seeded.notifications[user])
            yield Line("POST", f"/api/messages/notifications/{notice}/read", token)

    def rush(self) -> list[Line]:
        return [Line("POST", "/api/checkout", self.token(s)) for s in self.seeded.rushers]
