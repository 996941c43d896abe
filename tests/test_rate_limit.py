"""The per-client moving-window rate limiter, on a fake clock."""

from __future__ import annotations

import pytest

from service.api.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_the_amount_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter("3/minute", clock)
    for _ in range(3):
        assert limiter.hit("a") is None
        clock.now += 10
    clock.now += 10  # 40 s after the first request
    assert limiter.hit("a") == 20  # the first of the three leaves the window 60 s after it was made
    assert limiter.hit("b") is None  # clients are counted apart
    clock.now += 20
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 10  # the window moves: the second (at +10 s) is the oldest still in it


def test_a_refused_request_is_not_counted() -> None:
    clock = Clock()
    limiter = RateLimiter("1/second", clock)
    assert limiter.hit("a") is None
    for _ in range(50):
        clock.now += 0.01
        assert limiter.hit("a") == 1
    clock.now = 1001.0
    assert limiter.hit("a") is None


def test_every_limit_must_allow_and_none_counts_a_refusal() -> None:
    clock = Clock()
    limiter = RateLimiter("2/second;3/minute", clock)
    assert [limiter.hit("a") for _ in range(2)] == [None, None]
    assert limiter.hit("a") == 1  # the per-second limit refuses; the per-minute one must not count this
    clock.now += 1
    assert limiter.hit("a") is None  # the third of the minute
    clock.now += 1
    assert limiter.hit("a") == 58  # per minute: the first request leaves the window at 1060
    assert limiter.description == "2 per 1 second; 3 per 1 minute"


def test_an_empty_spec_limits_nothing_and_a_bad_one_is_refused() -> None:
    limiter = RateLimiter("")
    assert limiter.windows == [] and all(limiter.hit("a") is None for _ in range(1000))
    with pytest.raises(ValueError):
        RateLimiter("lots/forever")


def test_memory_is_bounded_by_the_least_recently_seen_client() -> None:
    clock = Clock()
    limiter = RateLimiter("1/hour", clock, max_clients=3)
    for client in "abc":
        assert limiter.hit(client) is None
    assert limiter.hit("a") == 3600  # seen again: now the most recent
    assert limiter.hit("d") is None  # b, the least recently seen, is forgotten
    assert limiter.hit("b") is None and limiter.hit("a") == 3600 and limiter.hit("d") == 3600
