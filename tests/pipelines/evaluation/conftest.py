"""The synthetic world the `gcml evaluate` tests score embeddings on."""

import glob

import pytest

from launch import main as gcml
from pipelines.io import tf_example
from tests.pipelines import files
from tests.pipelines.evaluation.evaluate_inputs import MODS


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  """A 300-item `gcml synth` world (once per test module).

  Returns:
    (its root folder, with the world in `root/w`; item id -> (mean_rgb, mean_audio);
    the edges as (id, id) pairs).
  """
  root = str(tmp_path_factory.mktemp("evaluate"))
  assert gcml.main(["synth", f"--output_dir={root}/w", "--num_items=300",
                    f"--modalities={MODS}"]) == 0
  feats = {}
  for rec in files.read_tfrecords(glob.glob(f"{root}/w/features-*.tfrecord")):
    p = tf_example.parse(rec)
    feats[p["id"][0].decode()] = (p["mean_rgb"], p["mean_audio"])
  edges = []
  for path in glob.glob(f"{root}/w/edges-*.csv"):
    with open(path, encoding="utf-8") as f:
      for line in f.read().splitlines()[1:]:
        a, b, _ = line.split(",")
        edges.append((a, b))
  return root, feats, edges
