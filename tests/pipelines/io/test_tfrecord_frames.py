"""pipelines/io/tfrecord_frames.py: good frames pass, corrupt ones are named with their byte."""

import io
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
