"""TFRecord frames: good records pass, corrupt frames become rejections naming file and byte."""

import io
import struct

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.io import tfrecord_files
from pipelines.io import tfrecord_frames
from pipelines.io.rejected import Rejection, binary_record
from tests.pipelines import files

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


def test_beam_transform_equals_the_local_reader(tmp_path):
  for i in range(3):
    files.write_damaged_tfrecord(str(tmp_path / f"f-{i}.tfrecord"),
                                 [f"r{i}-{j}".encode() for j in range(20)], bad_checksum=i)
  paths = sorted(str(p) for p in tmp_path.glob("f-*.tfrecord"))
  local = [r for p in paths for r in tfrecord_files.records_or_rejections(p, "s")]
  records = [r for r in local if isinstance(r, bytes)]
  rejected = [r for r in local if isinstance(r, Rejection)]
  assert len(records) == 3 * 19 and len(rejected) == 6
  data = bytearray(b"r0-0")
  data[2] ^= 0xFF  # what write_damaged_tfrecord did to the first record of f-0
  assert rejected[0] == Rejection(
      "s", "tfrecord_bad_data_checksum",
      f"{paths[0]} bad data checksum at byte 0: {binary_record(bytes(data))}")
  end = sum(16 + len(f"r0-{j}") for j in range(20))  # the half frame after the 20 records
  assert rejected[1] == Rejection(
      "s", "tfrecord_truncated",
      f"{paths[0]} truncated record at byte {end}: the rest of the file is not read")
  options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_threading"])
  with TestPipeline(runner="FnApiRunner", options=options) as p:
    got = p | beam.Create(paths) | tfrecord_files.ReadTFRecordFiles("s")
    assert_that(got.records, equal_to(records), label="Records")
    assert_that(got.rejected, equal_to(rejected), label="Rejected")
