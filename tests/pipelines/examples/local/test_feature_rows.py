"""`examples.local.feature_rows`: `read_features_local`'s items and rejections, as matrices."""

import numpy as np
import pytest

from pipelines.errors import InputError
from pipelines.examples.local import feature_rows
from pipelines.io import features
from tests.pipelines import files

MODS = (features.Modality("mean_rgb", 4), features.Modality("mean_audio", 2))


def _same_as_items(paths):
  expected = features.read_features_local(paths, MODS, "s")
  got = feature_rows.read_feature_rows_local(paths, MODS, "s")
  assert list(got.row) == list(expected.items)  # first-seen order
  for item_id, item in expected.items.items():
    for m in MODS:
      np.testing.assert_array_equal(got.matrices[m.name][got.row[item_id]], item.features[m.name])
      assert got.matrices[m.name].dtype == np.float32
  assert got.rejections == expected.rejections
  assert got.stats == expected.stats
  return got


@pytest.mark.parametrize("batch", [2, feature_rows.BATCH_RECORDS])
def test_messy_files_read_as_read_features_local(tmp_path, monkeypatch, batch):
  monkeypatch.setattr(feature_rows, "BATCH_RECORDS", batch)  # batches end inside the file
  a1, a2 = files.item_record("a", value=1.0), files.item_record("a", value=2.0)
  extra = files.item_record("e", value=3.0, other=[1])  # not plain: parse_item reads it
  first = [a2, files.item_record("b"), files.item_record("c", rgb_dim=5), extra,
           files.item_record("d", value=np.nan), a1, files.item_record("f", labels=())]
  second = [files.item_record("a", value=-1.0), files.item_record("g", value=7.0),
            files.item_record("h", value=2e6), files.item_record("e", value=4.0, other=[2])]
  paths = [files.write_tfrecord(str(tmp_path / "one.tfrecord"), first)]
  files.write_damaged_tfrecord(str(tmp_path / "two.tfrecord"), second, bad_checksum=1)
  paths.append(str(tmp_path / "two.tfrecord"))
  got = _same_as_items(paths)
  assert list(got.row) == ["a", "b", "e", "f"]
  assert [r.reason for r in got.rejections] == [
      "mean_rgb_wrong_length", "mean_rgb_not_finite", "tfrecord_bad_data_checksum",
      "mean_rgb_out_of_range", "tfrecord_truncated", features.DUPLICATE_ID,
      features.DUPLICATE_ID, features.DUPLICATE_ID]
  # 2.0 is 00 00 00 40, before 1.0 (00 00 80 3f) and -1.0 (00 00 80 bf): its record sorts first
  assert got.matrices["mean_rgb"][got.row["a"]].tolist() == [2.0] * 4


def test_no_records(tmp_path):
  path = files.write_tfrecord(str(tmp_path / "none.tfrecord"), [files.item_record("", value=1)])
  got = _same_as_items([path])
  assert got.row == {} and got.stats == {}
  assert got.matrices["mean_audio"].shape == (0, 2)


def test_an_unreadable_file_is_one_line(tmp_path):
  with pytest.raises(InputError, match="cannot read"):
    feature_rows.read_feature_rows_local([str(tmp_path / "missing.tfrecord")], MODS, "s")
