"""`blake2b_lanes` equals hashlib's BLAKE2b-64 on every message length of one block."""

import numpy as np

from pipelines import blake2b_lanes, hashing


def test_lanes_equal_hashlib_on_every_length_and_over_several_passes():
  rng = np.random.default_rng(20261201)
  messages = [rng.integers(0, 256, length, dtype=np.uint8).tobytes()
              for length in list(range(0, 129)) * 2] + [b"", b"\x00" * 128, b"a\x00"]
  messages *= 1 + blake2b_lanes._CHUNK // len(messages)  # pylint: disable=protected-access
  block = np.zeros((len(messages), 128), np.uint8)
  for i, m in enumerate(messages):
    block[i, :len(m)] = np.frombuffer(m, np.uint8)
  lengths = np.array([len(m) for m in messages])
  got = blake2b_lanes.blake2b64_lanes(block, lengths)
  assert got.dtype == np.uint64
  assert got.tolist() == [hashing.blake2b64(m) for m in messages]
