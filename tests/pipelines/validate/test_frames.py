"""`gcml validate --frames`: frame-level files validated by both engines, the same bytes."""

import json

import numpy as np
import pytest

from pipelines.io import frame_features
from pipelines.validate import stage as validate
from tests.pipelines import files
from tests.pipelines.examples import messy_world, worlds


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  root = tmp_path_factory.mktemp("frames")
  world = messy_world.messy_world(str(root))
  rng = np.random.default_rng(3)

  def frames(n, rgb=6, audio=3):
    return {"rgb": rng.uniform(-1, 1, (n, rgb)), "audio": rng.uniform(-1, 1, (n, audio))}

  records = [frame_features.encode(f"r{i}", frames(2 + i % 5)) for i in range(30)]
  bad_float = frames(3)
  bad_float["rgb"][1, 2] = np.nan
  records += [frame_features.encode("r3", frames(4)),  # a duplicate id
              frame_features.encode("wide", frames(3, rgb=7)),
              frame_features.encode("nan", bad_float, quantized=False),
              frame_features.encode("uneven", {"rgb": frames(3)["rgb"], "audio": frames(2)["audio"]}),
              b"not a record"]
  for part in range(2):
    files.write_tfrecord(str(root / f"frames-{part}.tfrecord"), records[part::2])
  with open(root / "frames-1.tfrecord", "ab") as f:
    f.write(b"\x40\x00\x00")  # a frame cut short
  return world, str(root / "frames-*.tfrecord")


def _run(world, out, engine, *more):
  validate.run([f"--edges={world[0].edges_glob}", f"--features={world[0].features_glob}",
                f"--frames={world[1]}", f"--output_dir={out}",
                f"--modalities={worlds.MODALITIES}", f"--engine={engine}", *more])
  return worlds.output_bytes(str(out))


def test_frames_are_validated_alike_by_both_engines(world, tmp_path):
  local = _run(world, tmp_path / "local", "local")
  beam = _run(world, tmp_path / "beam", "beam", "--runner=FnApiRunner")
  assert local == beam
  section = json.loads(local["summary.json"])["validate"]
  assert section["frames/valid_items"] == 30
  assert section["frame_modalities"] == "rgb:6,audio:3" and section["frame_files"] == 2
  for reason in ("rgb_wrong_length", "rgb_not_finite", "frame_count_mismatch"):
    assert section[f"rejected/{reason}"] >= 1, reason
  rows = local["rejected/validate-00000-of-00001.tsv"].decode()
  assert "id=wide" in rows and "id=uneven" in rows


def test_without_frames_nothing_changes(world, tmp_path):
  plain = validate.run([f"--edges={world[0].edges_glob}", f"--features={world[0].features_glob}",
                        f"--output_dir={tmp_path}", f"--modalities={worlds.MODALITIES}",
                        "--engine=local"])
  assert not any(k.startswith("frame") for k in plain)
