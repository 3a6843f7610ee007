"""429 with Retry-After, per token and per client address."""

from __future__ import annotations

import pytest

from caredesk.api import ratelimit

from .conftest import assert_problem


@pytest.fixture(autouse=True)
def _one_long_window(settings):
    """Windows are aligned to the clock: a test must not straddle two. This one ends in
    2033, and no count here starts again in the middle of a test."""
    settings.API_RATE_WINDOW = 10**9


def test_a_token_over_its_limit_gets_429_with_retry_after(api, alice, settings):
    settings.API_RATE_LIMIT_PER_TOKEN = 3
    for _ in range(3):
        assert api.get("/auth/me", as_=alice).status_code == 200

    response = api.get("/auth/me", as_=alice)

    body = assert_problem(response, 429)
    wait = int(response["Retry-After"])
    assert 1 <= wait <= settings.API_RATE_WINDOW
    assert f"{wait} s" in body["detail"]


def test_each_token_has_its_own_count(api, alice, bob, settings):
    settings.API_RATE_LIMIT_PER_TOKEN = 2
    for _ in range(2):
        api.get("/auth/me", as_=alice)
    assert api.get("/auth/me", as_=alice).status_code == 429

    assert api.get("/auth/me", as_=bob).status_code == 200


def test_an_address_over_its_limit_gets_429_whoever_asks(api, alice, bob, settings):
    settings.API_RATE_LIMIT_PER_IP = 3
    for person in (alice, bob, alice):
        assert api.get("/auth/me", as_=person).status_code == 200

    assert_problem(api.get("/auth/me", as_=bob), 429)


def test_failed_authentication_counts_against_the_address(api, db, settings):
    settings.API_RATE_LIMIT_PER_IP = 2
    bad = {"Authorization": "Bearer cd_abcdefgh_" + "x" * 32}
    for _ in range(2):
        assert api.get("/tickets", as_=None, headers=bad).status_code == 401

    response = api.get("/tickets", as_=None, headers=bad)

    assert_problem(response, 429)
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
def test_counts_start_again_in_the_next_window():
    counter = ratelimit.Counter()
    limits = {"token:test-window": 3}  # a small limit: every hit goes to the database
    window = 60  # explicit times: no clock involved
    now = 1_800_000_000.0  # the start of a window

    assert counter.hit(limits, window=window, now=now) == {"token:test-window": 1}
    assert counter.hit(limits, window=window, now=now + 59) == {"token:test-window": 2}
    assert counter.hit(limits, window=window, now=now + 60) == {"token:test-window": 1}
    assert ratelimit.seconds_to_next_window(window, now + 59.5) == 1
    assert ratelimit.seconds_to_next_window(window, now) == 60


@pytest.mark.django_db
def test_server_processes_share_the_count():
    """Two processes (two counters) see each other's hits through the database: far from
    the limit in batches, near it on every hit."""
    first, second = ratelimit.Counter(), ratelimit.Counter()
    limits, window, now = {"token:shared": 100}, 60, 1_800_000_000.0

    for _ in range(60):
        first.hit(limits, window=window, now=now)
    # Far from the limit, the second process has not needed to know yet.
    assert second.hit(limits, window=window, now=now)["token:shared"] == 1
    for _ in range(30):
        second.hit(limits, window=window, now=now)

    # The first learns the total when it next sends its batch (every 2 hits here)…
    assert first.hit(limits, window=window, now=now)["token:shared"] == 61
    assert first.hit(limits, window=window, now=now)["token:shared"] == 93
    # … and past 80 % of the limit every hit is sent and read back: the counts meet.
    assert second.hit(limits, window=window, now=now)["token:shared"] == 94
    assert first.hit(limits, window=window, now=now)["token:shared"] == 95


def test_what_a_request_counts_against(rf, settings):
    settings.API_RATE_LIMIT_PER_IP, settings.API_RATE_LIMIT_PER_TOKEN = 7, 5
    request = rf.get("/", REMOTE_ADDR="192.0.2.9")

    assert ratelimit._limits(request) == {"ip:192.0.2.9": 7}
