"""`pipelines/examples/validation_set.py`: `gcml examples --kind=validation` writes the
validation items and the edges between them."""

import os

from pipelines import split
from pipelines.io import tf_example
from tests.pipelines import files
from tests.pipelines.examples import worlds


def test_examples_validation_kind_writes_validation_items_and_edges(tmp_path):
  from pipelines.examples import stage as make_examples  # pylint: disable=import-outside-toplevel
  world = worlds.hand_world(str(tmp_path / "w"))
  v = {}
  for name in ("vx", "vy", "vz"):
    k = 0
    while not split.is_validation(f"{name}_{k}"):
      k += 1
    v[name] = f"{name}_{k}"
  # Add three validation items with features, two edges between them and one to a train item.
  more = worlds.write_world(
      str(tmp_path / "v"), {i: ("m", "s", "t") for i in v.values()},
      {tuple(sorted((v["vx"], v["vy"]))): 1.0, tuple(sorted((v["vy"], v["vz"]))): 2.0,
       tuple(sorted((v["vx"], world.names["a0"]))): 1.0}, list(v.values()))
  out = str(tmp_path / "validation")
  section = make_examples.run([
      "--kind=validation", f"--edges={world.edges_glob},{more.edges_glob}",
      f"--features={world.features_glob},{more.features_glob}", f"--output_dir={out}",
      f"--modalities={worlds.MODALITIES}", "--num_shards=2", "--runner=FnApiRunner"])
  assert section["validation/items"] == 3 and section["validation/edges"] == 2
  assert section["split"] == split.describe(0.3, 0.1)
  lines = []
  for shard in sorted(os.listdir(out)):
    if shard.startswith("edges-"):
      with open(os.path.join(out, shard), encoding="utf-8") as f:
        rows = f.read().splitlines()
      assert rows[0] == "src\tdst"
      lines += rows[1:]
  assert sorted(lines) == sorted("\t".join(sorted(p)) for p in (
      (v["vx"], v["vy"]), (v["vy"], v["vz"])))
  records = [tf_example.parse(r) for r in files.read_tfrecords(sorted(
      os.path.join(out, s) for s in os.listdir(out) if s.startswith("items-")))]
  assert sorted(r["id"][0].decode() for r in records) == sorted(v.values())
  assert all(r["mean_rgb"].shape == (6,) for r in records)
