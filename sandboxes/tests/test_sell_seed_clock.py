"""Seeded history lies in the past at any size, so later writes carry the wall clock.

At ``--seed 100000`` the stamps used to run into 2034; the account clock never goes back, so
every write after seeding got that one future stamp (found by the 100,000-contact no-change
benchmark: tap-sell then had to page through 50,201 records sharing its bookmark's second).
"""

from __future__ import annotations

import itertools
import random
import time

import pytest
from sell_sandbox.account import Account
from sell_sandbox.clock import parse_iso
from sell_sandbox.seed import SEED_END, _Stamps, seed_account


@pytest.mark.parametrize("count", [1, 350, 17_500, 175_000])
def test_stamps_increase_and_end_before_the_seed_end(count: int) -> None:
    stamps = _Stamps(random.Random(7), count)
    values = [parse_iso(stamps.next()) for _ in range(count)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert values[-1] < SEED_END < time.time()


def test_small_accounts_keep_their_stamps() -> None:
    """Gaps of 30 s to 1 h, as before: seeded data of the sizes tests use is unchanged."""
    rng_old, rng_new = random.Random("x"), random.Random("x")
    stamps = _Stamps(rng_new, 17_500)
    now = parse_iso("2024-01-02T08:00:00Z")
    for _ in range(1000):
        now += rng_old.randint(30, 3600)
        assert parse_iso(stamps.next()) == now


@pytest.mark.slow
def test_writes_after_a_large_seed_carry_the_wall_clock() -> None:
    account = Account("t" * 64)
    seed_account(account, 100_000, 1)
    newest = max(r["updated_at"] for r in account.tables["contacts"].values())
    assert parse_iso(newest) < SEED_END
    stamp = account.clock.tick()
    assert abs(parse_iso(stamp) - time.time()) < 5
