"""`hashing_vectorised` equals `hashing` (hashlib's BLAKE2b) value for value."""

import math

import numpy as np

from pipelines import hashing
from pipelines import hashing_vectorised as hv

RNG_SEED = 20261201


def test_blake2b64_batch_equals_hashlib_on_every_length():
  rng = np.random.default_rng(RNG_SEED)
  messages = [rng.integers(0, 256, length, dtype=np.uint8).tobytes()
              for length in list(range(0, 300)) * 3]
  messages += [b"", b"\x00", b"\x00" * 128, b"a\x00", b"\x00" * 129]
  assert hv.blake2b64_batch(messages).tolist() == [hashing.blake2b64(m) for m in messages]


def test_hashlib_rows_equal_hashlib_with_and_without_trailing_nuls():
  rng = np.random.default_rng(RNG_SEED)
  messages = [rng.integers(0, 256, length, dtype=np.uint8).tobytes()
              for length in list(range(0, 129)) * 2] + [b"\x00" * 128, b"a\x00"]
  block = np.frombuffer(np.array(messages, dtype="S128").tobytes(), np.uint8).reshape(-1, 128)
  lengths = np.array([len(m) for m in messages])
  expected = [hashing.blake2b64(m) for m in messages]
  assert hv._hashlib_rows(block, lengths).tolist() == expected  # pylint: disable=protected-access
  no_trailing_nul = [i for i, m in enumerate(messages) if not m.endswith(b"\x00")]  # fast path
  assert hv._hashlib_rows(block[no_trailing_nul], lengths[no_trailing_nul]).tolist() == [  # pylint: disable=protected-access
      expected[i] for i in no_trailing_nul]


def _ids(rng, n: int) -> list:
  alphabet = list("abcXYZ019_-:/ ") + ["é", "ß", "中", "😀"]
  return ["".join(rng.choice(alphabet, rng.integers(1, 40))) for _ in range(n)]


def test_hash64_equals_on_the_pipelines_key_shapes():
  rng = np.random.default_rng(RNG_SEED)
  a, b = _ids(rng, 400), _ids(rng, 400)
  a[0], b[0] = "x" * 70, "é" * 40  # over 128 bytes: the hashlib fall-back
  ea, eb = hv.encoded(a), hv.encoded(b)
  for seed in (0, 7, 12345678901):
    for parts, scalar in (
        (("positive", ea, eb), lambda i: ("positive", a[i], b[i])),
        (("negative", 0, ea, eb), lambda i: ("negative", 0, a[i], b[i])),
        (("negative", 2, ea, eb, "child", 3), lambda i: ("negative", 2, a[i], b[i], "child", 3)),
        (("reservoir", 1, ea), lambda i: ("reservoir", 1, a[i])),
        ((ea,), lambda i: (a[i],))):
      expected = [hashing.hash64(seed, *scalar(i)) for i in range(len(a))]
      assert hv.hash64(len(a), seed, *parts).tolist() == expected


def test_uniform_pick_weighted_and_order_keys_equal_the_scalar_helpers():
  rng = np.random.default_rng(RNG_SEED)
  a = _ids(rng, 2000)
  ea = hv.encoded(a)
  assert hv.uniform(len(a), 3, "u", ea).tolist() == [hashing.uniform(3, "u", i) for i in a]
  sizes = rng.integers(1, 10**6, len(a))
  assert hv.pick(sizes, len(a), 3, "p", ea).tolist() == [
      hashing.pick(int(s), 3, "p", i) for s, i in zip(sizes, a)]
  weights = rng.random(len(a)) * 10 + 1e-3
  assert hv.weighted_key(weights, len(a), 3, "w", ea).tolist() == [
      hashing.weighted_key(w, 3, "w", i) for w, i in zip(weights.tolist(), a)]
  assert [k.decode() for k in hv.order_key(len(a), 3, ea, ea).tolist()] == [
      hashing.order_key(3, i, i) for i in a]


def test_uint64_to_float_rounds_as_python():
  rng = np.random.default_rng(RNG_SEED)
  edges = [0, 1, 2**53 - 1, 2**53, 2**53 + 1, 2**63, 2**64 - 2**11, 2**64 - 2**10 - 1,
           2**64 - 2**10, 2**64 - 1]
  values = edges + [int(v) for v in rng.integers(0, 2**63, 5000, dtype=np.uint64)] + [
      2**64 - 1 - int(v) for v in rng.integers(0, 2**20, 5000, dtype=np.uint64)]
  array = np.array(values, np.uint64)
  assert ((array.astype(np.float64) + 0.5) / float(2**64)).tolist() == [
      (v + 0.5) / float(2**64) for v in values]
  assert hv.hex16(array).tolist() == [f"{v:016x}".encode() for v in values]
  assert all(math.isfinite(x) for x in hv.uniform(3, 0, hv.encoded(["a", "b", "c"])))


def test_hash64_over_several_message_chunks_with_a_long_key_in_the_second():
  n = hv._KEYS_CHUNK + 5  # pylint: disable=protected-access
  ids = [f"i{k}" for k in range(n)]
  ids[n - 2] = "x" * 200  # a message over 128 bytes: hashed by hashlib, in the second chunk
  got = hv.hash64(n, 7, "p", hv.encoded(ids), "q")
  for k in (0, n - 6, n - 5, n - 2, n - 1):
    assert got[k] == hashing.hash64(7, "p", ids[k], "q")
