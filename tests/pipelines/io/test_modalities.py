"""Modalities detected from the feature records, checked when given, read downstream."""

import os

import numpy as np
import pytest

from launch import main as gcml
from pipelines.io import modalities, sharded_io, summary, tf_example
from pipelines.errors import InputError
from pipelines.io.modality_spec import parse_modalities
from tests.pipelines import files

RUNNER = ["--runner=FnApiRunner"]


def _record(item_id: str, **vectors) -> bytes:
  return tf_example.encode({"id": item_id, "labels": [1],
                            **{k: np.full(d, 0.5, np.float32) for k, d in vectors.items()}})


def _features(path: str, ids, **vectors) -> str:
  return files.write_tfrecord(path, [_record(i, **vectors) for i in ids])


@pytest.fixture(name="visual_world")
def _visual_world(tmp_path):
  """Features named visual:6 and audio:3 (not YouTube-8M's), in two files."""
  _features(str(tmp_path / "in" / "features-0.tfrecord"), ["a", "b"], visual=6, audio=3)
  _features(str(tmp_path / "in" / "features-1.tfrecord"), ["c"], visual=6, audio=3)
  files.write_text(str(tmp_path / "in" / "edges-0.csv"), ["src,dst,weight", "a,b,1", "b,c,2"])
  return tmp_path


def test_detect_reads_names_and_sizes_from_the_records(visual_world):
  paths = sorted(str(p) for p in (visual_world / "in").glob("features-*"))
  assert modalities.detect(paths) == (("visual", 6), ("audio", 3))


def test_detect_takes_what_most_first_records_carry(tmp_path):
  path = files.write_tfrecord(str(tmp_path / "f.tfrecord"), [
      _record("odd", visual=5), b"not an example", _record("a", visual=6),
      _record("b", visual=6)])
  assert modalities.detect([path]) == (("visual", 6),)


def test_files_that_disagree_are_refused_in_one_line(tmp_path):
  one = _features(str(tmp_path / "f-0.tfrecord"), ["a"], visual=6, audio=3)
  two = _features(str(tmp_path / "f-1.tfrecord"), ["b"], mean_rgb=8)
  with pytest.raises(InputError) as e:
    modalities.detect([one, two])
  assert str(e.value) == (
      f"--features: {one} carries visual:6,audio:3 but {two} carries mean_rgb:8; feature "
      "files must carry the same modalities (keep one kind of file, or name the ones to use "
      "with --modalities)")


def test_records_without_float_features_are_refused(tmp_path):
  path = files.write_tfrecord(str(tmp_path / "f.tfrecord"),
                              [tf_example.encode({"id": "a", "labels": [1]})])
  with pytest.raises(InputError, match="no record of the 1 file"):
    modalities.detect([path])


def test_given_modalities_no_record_carries_say_what_the_records_carry(visual_world):
  paths = sorted(str(p) for p in (visual_world / "in").glob("features-*"))
  modalities.check_given(parse_modalities("visual:6"), paths)  # a subset is carried
  with pytest.raises(InputError) as e:
    modalities.check_given(parse_modalities("mean_rgb:1024,mean_audio:128"), paths)
  assert str(e.value) == ("modalities mean_rgb:1024,mean_audio:128: no record of --features "
                          "carries them; the records carry visual:6,audio:3 (features-0.tfrecord)")
  with pytest.raises(InputError, match="carry visual:6,audio:3"):
    modalities.check_given(parse_modalities("visual:7,audio:3"), paths)  # a size differs


def test_validate_detects_and_records_the_modalities(visual_world, capsys):
  out = str(visual_world / "out")
  code = gcml.main(["validate", f"--edges={visual_world}/in/edges-*.csv",
                    f"--features={visual_world}/in/features-*", f"--output_dir={out}"] + RUNNER)
  assert code == 0, capsys.readouterr().err
  section = summary.read_json(os.path.join(out, "summary.json"))["validate"]
  assert section["modalities"] == "visual:6,audio:3"
  assert section["features/valid_items"] == 3
  assert not [k for k in section if k.startswith("rejected/")]


def test_validate_with_modalities_no_record_carries_is_one_line(visual_world, capsys):
  code = gcml.main(["validate", f"--edges={visual_world}/in/edges-*.csv",
                    f"--features={visual_world}/in/features-*",
                    f"--output_dir={visual_world}/out"] + RUNNER)
  assert code == 0
  capsys.readouterr()
  code = gcml.main(["validate", f"--edges={visual_world}/in/edges-*.csv",
                    f"--features={visual_world}/in/features-*", f"--output_dir={visual_world}/o2",
                    "--modalities=mean_rgb:1024,mean_audio:128"] + RUNNER)
  err = capsys.readouterr().err
  assert code == 2
  assert err.count("\n") == 1 and "the records carry visual:6,audio:3" in err


def test_validate_refuses_feature_files_that_disagree(visual_world, capsys):
  _features(str(visual_world / "in" / "features-2.tfrecord"), ["d"], mean_rgb=8)
  code = gcml.main(["validate", f"--edges={visual_world}/in/edges-*.csv",
                    f"--features={visual_world}/in/features-*",
                    f"--output_dir={visual_world}/out"] + RUNNER)
  err = capsys.readouterr().err
  assert code == 2 and err.count("\n") == 1
  assert "features-0.tfrecord carries visual:6,audio:3 but" in err
  assert "features-2.tfrecord carries mean_rgb:8" in err


def test_examples_with_modalities_no_record_carries_is_one_line(visual_world, capsys):
  code = gcml.main(["examples", "--kind=random", f"--edges={visual_world}/in/edges-*.csv",
                    f"--features={visual_world}/in/features-*", f"--output_dir={visual_world}/ex",
                    "--modalities=mean_rgb:1024,mean_audio:128"] + RUNNER)
  err = capsys.readouterr().err
  assert code == 2 and err.count("\n") == 1 and "the records carry visual:6,audio:3" in err


def test_evaluate_reads_the_exported_modalities_and_refuses_others(visual_world, capsys):
  emb = visual_world / "emb"
  emb.mkdir()
  sharded_io.write_sorted_shards_local(
      [(i, tf_example.encode({"id": i, "embedding": np.ones(4, np.float32)})) for i in "abc"],
      str(emb / "embeddings"), ".tfrecord", 1, sharded_io.TFRECORD)
  summary.update_summary(str(emb), "export", {"modalities": "visual:6,audio:3"})
  paths = sorted(str(p) for p in (visual_world / "in").glob("features-*"))
  assert modalities.settle(None, paths, str(emb), "export") == (("visual", 6), ("audio", 3))
  code = gcml.main(["evaluate", f"--embeddings={emb}/embeddings-*.tfrecord",
                    f"--edges={visual_world}/in/edges-*.csv",
                    f"--features={visual_world}/in/features-*", f"--output_dir={visual_world}/ev",
                    "--modalities=visual:6"])
  err = capsys.readouterr().err
  assert code == 2 and err.count("\n") == 1
  assert (f"--modalities names modalities visual:6 but {emb}/summary.json (gcml export) records "
          "visual:6,audio:3") in err
