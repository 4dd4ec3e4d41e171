"""pipelines/io/tfrecord_files.py: corrupt frames become rejections naming file and byte."""

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.io import tfrecord_files
from pipelines.io import tfrecord_files_beam
from pipelines.io.rejected import Rejection, binary_record
from tests.pipelines import files


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
    got = p | beam.Create(paths) | tfrecord_files_beam.ReadTFRecordFiles("s")
    assert_that(got.records, equal_to(records), label="Records")
    assert_that(got.rejected, equal_to(rejected), label="Rejected")
