"""pipelines/hashing.py: BLAKE2b-64 known answers and the seeded draws built on it."""

import math

import pytest

from pipelines import hashing

# Known answers from coreutils: `printf 'abc' | b2sum -l 64`.
B2SUM_64 = {b"": 0xe4a6a0577479b2b4, b"abc": 0xd8bb14d833d59559,
            b"7\x1fa\x1f3": 0x3dde7f7e621dd034}


@pytest.mark.parametrize("data, expected", sorted(B2SUM_64.items()))
def test_blake2b64_matches_b2sum(data, expected):
  assert hashing.blake2b64(data) == expected


def test_hash64_joins_seed_and_parts_with_unit_separator():
  # seed 7, parts ("a", 3) are hashed as the bytes 7 \x1f a \x1f 3.
  assert hashing.hash64(7, "a", 3) == 0x3dde7f7e621dd034
  assert hashing.hash64(7, "a", 3) != hashing.hash64(7, "a3")
  assert hashing.hash64(7, "a", 3) != hashing.hash64(8, "a", 3)


def test_uniform_is_the_hash_scaled_into_the_open_interval():
  assert hashing.uniform(7, "a", 3) == pytest.approx(0x3dde7f7e621dd034 / 2**64, abs=1e-15)
  draws = [hashing.uniform(1, i) for i in range(2000)]
  assert all(0.0 < u < 1.0 for u in draws)
  assert 0.45 < sum(draws) / len(draws) < 0.55


def test_pick_covers_every_index_evenly():
  counts = [0] * 4
  for i in range(4000):
    counts[hashing.pick(4, 11, "item", i)] += 1
  assert all(900 < c < 1100 for c in counts), counts
  assert hashing.pick(1, 11, "anything") == 0


def test_weighted_key_is_exponential_over_weight():
  # -log(u) / w: doubling the weight halves the key for the same draw.
  one = hashing.weighted_key(1.0, 5, "x")
  assert one == pytest.approx(-math.log(hashing.uniform(5, "x")))
  assert hashing.weighted_key(2.0, 5, "x") == pytest.approx(one / 2)


def test_order_key_is_sixteen_hex_digits_of_the_order_hash():
  key = hashing.order_key(3, "a", 1)
  assert len(key) == 16 and int(key, 16) == hashing.hash64(3, "order", "a", 1)
  assert key == hashing.order_key(3, "a", 1)
