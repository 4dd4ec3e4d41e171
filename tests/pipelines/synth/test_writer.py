"""`pipelines/synth/writer.py`: `generate` writes a world's shards and synth.json."""

import filecmp
import json
import os

from pipelines.io.modality_spec import Modality
from pipelines.synth.config import SynthConfig
from pipelines.synth.writer import generate

# 40 items in shards of 20 (2 shards of each kind); 40 * 4 / 2 = 80 edge lines.
CONFIG = SynthConfig(num_items=40, seed=2, branching=(2, 2, 2), mean_degree=4.0,
                     items_per_shard=20, latent_dim=4, processes=1,
                     modalities=(Modality("rgb", 3),))


def _lines(out, prefix):
  rows = []
  for name in sorted(n for n in os.listdir(out) if n.startswith(prefix)):
    with open(os.path.join(out, name), encoding="utf-8") as f:
      rows.append(f.read().splitlines())
  return rows


def test_generate_writes_the_shards_and_the_statistics(tmp_path):
  out = str(tmp_path / "w")
  stats = generate(CONFIG, out, progress=lambda _: None)
  assert sorted(os.listdir(out)) == [
      "edges-00000-of-00002.csv", "edges-00001-of-00002.csv", "features-00000-of-00002.tfrecord",
      "features-00001-of-00002.tfrecord", "hierarchy-00000-of-00002.tsv",
      "hierarchy-00001-of-00002.tsv", "synth.json"]
  edges = _lines(out, "edges-")
  assert [shard[0] for shard in edges] == ["src,dst,weight"] * 2
  assert sum(len(shard) - 1 for shard in edges) == 80
  hierarchy = _lines(out, "hierarchy-")
  assert [shard[0] for shard in hierarchy] == ["id\ttopic\tsubtopic\tmicro"] * 2
  assert [len(shard) - 1 for shard in hierarchy] == [20, 20]
  with open(os.path.join(out, "synth.json"), encoding="utf-8") as f:
    written = json.load(f)
  assert written == json.loads(json.dumps({k: v for k, v in stats.items() if k != "seconds"}))
  assert written["config"]["modalities"] == [["rgb", 3]]
  assert (written["items"], written["edge_lines"], written["topics"], written["subtopics"],
          written["micro_clusters"], written["label_vocabulary"]) == (40, 80, 2, 4, 8, 6)
  assert sum(written["edges_by_level"].values()) == 80
  assert "processes" not in written["config"] and "frames" not in written["config"]


def test_same_bytes_whatever_the_processes_and_old_shards_removed(tmp_path):
  one, two = str(tmp_path / "one"), str(tmp_path / "two")
  os.makedirs(two)
  with open(os.path.join(two, "edges-00000-of-00005.csv"), "w", encoding="utf-8") as f:
    f.write("a stale shard of an earlier world\n")
  generate(CONFIG, one, progress=lambda _: None)
  generate(SynthConfig(**{**CONFIG.__dict__, "processes": 2}), two, progress=lambda _: None)
  names = sorted(os.listdir(one))
  assert names == sorted(os.listdir(two))
  _, mismatch, errors = filecmp.cmpfiles(one, two, names, shallow=False)
  assert not mismatch and not errors
