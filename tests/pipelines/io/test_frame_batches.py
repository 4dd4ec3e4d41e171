"""`io.frame_batches`: CRC-32C combined by linearity, and TFRecord frames, in bulk."""

import google_crc32c
import numpy as np

from pipelines.io import frame_batches
from pipelines.io.tfrecord_frames import masked_crc32c, tfrecord_frame


def test_crc32c_each_gives_the_check_value():
  # The CRC-32C check value (RFC 3720): "123456789" -> 0xE3069283; "" -> 0.
  assert frame_batches.crc32c_each([b"123456789", b""]).tolist() == [0xE3069283, 0]


def test_combine_equals_the_crc_of_the_concatenation():
  rng = np.random.default_rng(0)
  firsts = [rng.bytes(int(n)) for n in rng.integers(0, 300, 40)] + [b"", b"a"]
  seconds = [rng.bytes(int(n)) for n in rng.integers(0, 300, 40)] + [b"xyz", b""]
  combined = frame_batches.combine(frame_batches.crc32c_each(firsts),
                                   frame_batches.crc32c_each(seconds),
                                   np.array([len(s) for s in seconds]))
  assert combined.tolist() == [google_crc32c.value(f + s) for f, s in zip(firsts, seconds)]
  # One length for all: the scalar form.
  same = frame_batches.combine(frame_batches.crc32c_each(firsts), np.full(len(firsts), 0xE3069283,
                                                                           np.uint32), 9)
  assert same.tolist() == [google_crc32c.value(f + b"123456789") for f in firsts]


def test_shift_by_zero_bytes_is_the_identity():
  crcs = np.array([0, 1, 0xFFFFFFFF, 0x12345678], np.uint32)
  assert frame_batches.shift(crcs, 0).tolist() == crcs.tolist()


def test_masked_equals_the_scalar_mask():
  data = [b"", b"a", b"123456789", bytes(1000)]
  assert frame_batches.masked(frame_batches.crc32c_each(data)).tolist() == [
      masked_crc32c(d) for d in data]


def test_head_and_tail_frame_a_record_as_tfrecord_frame():
  records = [b"", b"\x00", b"hello", bytes(range(256)) * 300]
  tails = frame_batches.frame_tails(frame_batches.crc32c_each(records))
  assert [frame_batches.frame_head(len(r)) + r + t for r, t in zip(records, tails)] == [
      tfrecord_frame(r) for r in records]
  # Hand-computed head of an empty record: 8 zero bytes, then the masked CRC of those bytes.
  assert frame_batches.frame_head(0) == bytes(8) + masked_crc32c(bytes(8)).to_bytes(4, "little")


def test_distinct_is_unique_with_inverse():
  for values in ([5, -1, 5, 3, -1], [0], [], [7, 1 << 40, 7]):  # small range, and a wide one
    found, index = frame_batches.distinct(values)
    expected, inverse = np.unique(np.array(values, np.int64), return_inverse=True)
    assert found.tolist() == expected.tolist() and index.tolist() == inverse.tolist()
