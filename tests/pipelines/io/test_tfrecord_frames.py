"""pipelines/io/tfrecord_frames.py: good frames pass, corrupt ones are named with their byte."""

import io
import random
import struct

import pytest

from pipelines.io import tfrecord_frames

RECORDS = [b"first", b"second", b"third"]
FRAME = [len(tfrecord_frames.tfrecord_frame(r)) for r in RECORDS]  # 16 + length


def _scan(data: bytes):
  return list(tfrecord_frames.scan_tfrecords(io.BytesIO(data)))


def test_bad_data_checksum_skips_one_record_and_goes_on():
  frames = [bytearray(tfrecord_frames.tfrecord_frame(r)) for r in RECORDS]
  frames[1][12] ^= ord("s") ^ ord("r")  # first data byte of "second"
  got = _scan(b"".join(frames))
  damaged = b"recond"  # "second" with its first byte changed
  assert got == [b"first", tfrecord_frames.CorruptFrame("tfrecord_bad_data_checksum", FRAME[0], damaged),
                 b"third"]


def test_bad_length_checksum_and_truncation_end_the_file():
  good = tfrecord_frames.tfrecord_frame(RECORDS[0])
  bad_length = bytearray(tfrecord_frames.tfrecord_frame(RECORDS[1]))
  bad_length[8] ^= 1  # the length's checksum
  assert _scan(good + bytes(bad_length) + good) == [
      b"first", tfrecord_frames.CorruptFrame("tfrecord_bad_length_checksum", FRAME[0])]
  cut = tfrecord_frames.tfrecord_frame(RECORDS[1])
  for keep in (5, 12, len(cut) - 1):  # inside the header, the data, the data checksum
    assert _scan(good + cut[:keep]) == [
        b"first", tfrecord_frames.CorruptFrame("tfrecord_truncated", FRAME[0])]
  # A length that claims more bytes than the file holds, with a valid checksum.
  huge = struct.pack("<Q", 1 << 40)
  lying = huge + struct.pack("<I", tfrecord_frames.masked_crc32c(huge)) + b"xx"
  assert _scan(lying) == [tfrecord_frames.CorruptFrame("tfrecord_truncated", 0)]
  assert _scan(b"") == []


def test_read_tfrecords_raises_at_the_first_corrupt_frame():
  data = tfrecord_frames.tfrecord_frame(b"a") + tfrecord_frames.tfrecord_frame(b"b")[:-1]
  reader = tfrecord_frames.read_tfrecords(io.BytesIO(data))
  assert next(reader) == b"a"
  with pytest.raises(ValueError, match=f"^truncated record at byte {16 + 1}$"):
    next(reader)


def test_frames_across_read_chunks(monkeypatch):
  monkeypatch.setattr(tfrecord_frames, "_FIRST_READ", 5)  # every frame spans several reads
  monkeypatch.setattr(tfrecord_frames, "_CHUNK", 5)
  frames = [bytearray(tfrecord_frames.tfrecord_frame(r)) for r in RECORDS]
  frames[1][12] ^= ord("s") ^ ord("r")
  data = b"".join(frames)
  assert _scan(data) == [
      b"first", tfrecord_frames.CorruptFrame("tfrecord_bad_data_checksum", FRAME[0], b"recond"),
      b"third"]
  assert _scan(data[:-1])[-1] == tfrecord_frames.CorruptFrame("tfrecord_truncated",
                                                               FRAME[0] + FRAME[1])


def _reference_scan(data: bytes) -> list:
  """The framing rules one frame at a time, on the whole file: what the scan must yield."""
  out, pos = [], 0
  while pos < len(data):
    if len(data) - pos < 12:
      return out + [tfrecord_frames.CorruptFrame("tfrecord_truncated", pos)]
    length, length_crc = struct.unpack_from("<QI", data, pos)
    if tfrecord_frames.masked_crc32c(data[pos:pos + 8]) != length_crc:
      return out + [tfrecord_frames.CorruptFrame("tfrecord_bad_length_checksum", pos)]
    if len(data) - pos < 16 + length:
      return out + [tfrecord_frames.CorruptFrame("tfrecord_truncated", pos)]
    record = data[pos + 12:pos + 12 + length]
    if struct.unpack_from("<I", data, pos + 12 + length)[0] != tfrecord_frames.masked_crc32c(
        record):
      out.append(tfrecord_frames.CorruptFrame("tfrecord_bad_data_checksum", pos, record))
    else:
      out.append(record)
    pos += 16 + length
  return out


@pytest.mark.parametrize("first_read,chunk", [(5, 5), (7, 64), (64, 1000), (64 << 10, 4 << 20)])
def test_damaged_files_as_the_rules_one_frame_at_a_time(monkeypatch, first_read, chunk):
  monkeypatch.setattr(tfrecord_frames, "_FIRST_READ", first_read)
  monkeypatch.setattr(tfrecord_frames, "_CHUNK", chunk)
  rng = random.Random(first_read)
  for case in range(300):
    records = [bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 20, 21, 300])))
               for _ in range(rng.randrange(0, 30))]
    data = bytearray(b"".join(tfrecord_frames.tfrecord_frame(r) for r in records))
    for _ in range(rng.choice([0, 1, 1, 2, 4])):  # flip bytes anywhere: lengths, checksums, data
      if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    if data and rng.random() < 0.3:  # set a length to a small one, with or without its checksum
      at = rng.randrange(len(data))
      data[at:at + 8] = struct.pack("<Q", rng.randrange(40))[:len(data) - at]
    if rng.random() < 0.3:
      del data[rng.randrange(len(data) + 1):]
    data = bytes(data)
    blocks = list(tfrecord_frames.scan_tfrecord_blocks(io.BytesIO(data)))
    assert all(isinstance(b, tfrecord_frames.CorruptFrame) or b for b in blocks), case
    assert _scan(data) == _reference_scan(data), case


def test_a_small_wrong_length_with_its_checksum_reads_on_from_there():
  """A length field rewritten with a valid checksum is trusted, as TensorFlow trusts it."""
  frames = [tfrecord_frames.tfrecord_frame(r) for r in (b"abcdef", b"x" * 40)]
  short = struct.pack("<Q", 2)
  data = (short + struct.pack("<I", tfrecord_frames.masked_crc32c(short)) + frames[0][12:]
          + frames[1])
  got = _scan(data)
  assert got[0] == tfrecord_frames.CorruptFrame("tfrecord_bad_data_checksum", 0, b"ab")
  assert got == _reference_scan(data) and len(got) == 2
