"""`pipelines/io/frame_validation.py`: the frame-level reader, in memory and on Beam, with the
same items, rejections and counts."""

import glob

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.io import features
from pipelines.io import frame_features as ff
from pipelines.io import frame_validation as fv
from pipelines.io import frame_validation_beam
from pipelines.io.rejected import write_rejected_local
from pipelines.io.rejected_beam import WriteRejected
from tests.pipelines import files
from tests.pipelines.io.frame_items import MODS, float_frame_record, frame_arrays


def _world(tmp_path):
  good = [ff.encode(f"v{i}", frame_arrays(value=i / 10)) for i in range(4)]
  dup = ff.encode("v1", frame_arrays(value=0.9))
  bad = [ff.encode("w", frame_arrays(rgb=5)), float_frame_record("x", frame_arrays(value=np.inf))]
  a = files.write_tfrecord(str(tmp_path / "in" / "a.tfrecord"), good[:2] + bad)
  b = files.write_tfrecord(str(tmp_path / "in" / "b.tfrecord"), good[2:] + [dup])
  return [a, b]


def test_local_reader_keeps_one_per_id_and_counts(tmp_path):
  local = fv.read_frames_local(_world(tmp_path), MODS)
  assert sorted(local.items) == ["v0", "v1", "v2", "v3"]
  assert local.stats == {fv.VALID_ITEMS: 4}
  assert sorted(r.reason for r in local.rejections) == [
      features.DUPLICATE_ID, "rgb_not_finite", "rgb_wrong_length"]


def test_beam_and_local_write_the_same_rejections(tmp_path):
  paths = _world(tmp_path)
  local = fv.read_frames_local(paths, MODS)
  write_rejected_local(str(tmp_path / "local"), "validate", local.rejections)
  with TestPipeline() as p:
    result = p | frame_validation_beam.ReadFrameFeatures(paths, MODS)
    assert_that(result.items | beam.Map(lambda i: (i.id, float(i.frames["rgb"].sum()))),
                equal_to([(k, float(v.frames["rgb"].sum())) for k, v in local.items.items()]))
    counts = result.rejected | WriteRejected(str(tmp_path / "beam"), "validate")
    assert_that(counts | beam.combiners.Count.Globally(), equal_to([3]), label="three")

  def read(engine):
    return [open(p, "rb").read()
            for p in sorted(glob.glob(str(tmp_path / engine / "rejected" / "*")))]
  assert read("beam") == read("local") and read("local")
