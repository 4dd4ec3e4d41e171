"""Inputs for the example-pipeline tests: cluster tables and small worlds."""

import glob
import os

from pipelines.io import sharded_io


def write_tables(clusters_dir: str, paths: dict, num_shards: int = 2) -> str:
  """Writes contract-4 tables from {id: (l0, l1, ...)}; sizes over all items."""
  levels = len(next(iter(paths.values())))
  header = "id\t" + "\t".join(f"l{i}" for i in range(levels))
  rows = [(item_id, "\t".join([item_id, *path])) for item_id, path in paths.items()]
  os.makedirs(clusters_dir, exist_ok=True)
  sharded_io.write_sorted_shards_local(rows, os.path.join(clusters_dir, "assignments"), ".tsv",
                                       num_shards, header=header)
  sizes = {}
  for path in paths.values():
    for level, cluster in enumerate(path):
      parent = path[level + 1] if level + 1 < levels else ""
      key = (level, cluster, parent)
      sizes[key] = sizes.get(key, 0) + 1
  lines = [(f"{k[0]}\t{k[1]}", f"{k[0]}\t{k[1]}\t{k[2]}\t{n}") for k, n in sorted(sizes.items())]
  sharded_io.write_sorted_shards_local(lines, os.path.join(clusters_dir, "clusters"), ".tsv", 1,
                                       header="level\tcluster\tparent\tsize")
  return clusters_dir


def synth_hierarchy(synth_dir: str) -> dict:
  """{id: (micro, subtopic, topic)} from a synth world's hierarchy-*.tsv."""
  paths = {}
  for path in sorted(glob.glob(os.path.join(synth_dir, "hierarchy-*.tsv"))):
    with open(path, encoding="utf-8") as f:
      for line in f.read().splitlines()[1:]:
        item_id, topic, subtopic, micro = line.split("\t")
        paths[item_id] = (micro, subtopic, topic)
  return paths


def tables_from_synth(synth_dir: str, clusters_dir: str) -> str:
  """Cluster tables from the planted truth: l0 = micro, l1 = subtopic, l2 = topic."""
  return write_tables(clusters_dir, synth_hierarchy(synth_dir))


# ---------------------------------------------------------------------------
# A small hand-made world with a three-level hierarchy.

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402

from pipelines import split  # noqa: E402
from pipelines.io import tf_example  # noqa: E402
from tests.pipelines import files  # noqa: E402

MODALITIES = "mean_rgb:6,mean_audio:3"
DIMS = {"mean_rgb": 6, "mean_audio": 3}


def named(name: str, test: bool = False) -> str:
  """An id that starts with `name` and falls in the train (or test) split."""
  for k in range(1000):
    candidate = name if k == 0 else f"{name}_{k}"
    if (split.is_test(candidate) if test else split.is_train(candidate)):
      return candidate
  raise AssertionError(name)


@dataclasses.dataclass
class World:
  root: str
  paths: dict  # id -> (l0, l1, l2), every row of the table
  edges: dict  # (a, b) sorted -> weight
  features: dict  # id -> {modality: float32 array}

  @property
  def edges_glob(self):
    return os.path.join(self.root, "in", "edges-*.csv")

  @property
  def features_glob(self):
    return os.path.join(self.root, "in", "features-*.tfrecord")

  @property
  def clusters_dir(self):
    return os.path.join(self.root, "clusters")

  def neighbours(self, item_id):
    return {b if a == item_id else a for a, b in self.edges if item_id in (a, b)}

  def eligible(self, item_id):
    """Train item with features and a cluster row: may be a smart anchor or negative."""
    return (split.is_train(item_id) and item_id in self.features and item_id in self.paths)

  def usable(self, item_id):
    """Train item with features: may be a positive or a random negative."""
    return split.is_train(item_id) and item_id in self.features


def write_world(root: str, paths: dict, edges: dict, feature_ids, seed: int = 0) -> World:
  rng = np.random.default_rng(seed)
  features = {i: {name: rng.normal(size=dim).astype(np.float32) for name, dim in DIMS.items()}
              for i in sorted(feature_ids)}
  records = [tf_example.encode({"id": i, **f, "labels": [1]}) for i, f in features.items()]
  half = len(records) // 2
  files.write_tfrecord(os.path.join(root, "in", "features-0.tfrecord"), records[:half])
  files.write_tfrecord(os.path.join(root, "in", "features-1.tfrecord"), records[half:])
  lines = ["src,dst,weight"] + [f"{a},{b},{w}" for (a, b), w in sorted(edges.items())]
  files.write_text(os.path.join(root, "in", "edges-0.csv"), lines)
  write_tables(os.path.join(root, "clusters"), paths)
  return World(root, paths, edges, features)


def hand_world(root: str) -> World:
  """T0 = {S0 = {M0: a0..a4, M1: b0..b2}, S1 = {M2: c0..c3, g0}}, T1 = {S2 = {M3: d0, d1}}.

  Plus: e0 (features and edges, no table row), f0 (row, no features), t0 (a
  test item with a row, features and edges), g0 (row and features, no edge).
  """
  n = {name: named(name) for name in
       "a0 a1 a2 a3 a4 b0 b1 b2 c0 c1 c2 c3 d0 d1 e0 f0 g0".split()}
  n["t0"] = named("t0", test=True)
  paths = {}
  for names, micro, sub, top in (("a0 a1 a2 a3 a4 f0 t0", "M0", "S0", "T0"),
                                 ("b0 b1 b2", "M1", "S0", "T0"),
                                 ("c0 c1 c2 c3 g0", "M2", "S1", "T0"),
                                 ("d0 d1", "M3", "S2", "T1")):
    for name in names.split():
      paths[n[name]] = (micro, sub, top)
  pairs = [("a0", "a1", 5), ("a1", "a2", 1), ("a2", "a3", 2), ("a3", "a4", 1), ("a0", "a2", 3),
           ("b0", "b1", 1), ("b1", "b2", 1), ("b0", "b2", 1), ("c0", "c1", 2), ("c2", "c3", 2),
           ("d0", "d1", 1), ("a4", "c0", 1), ("b2", "c3", 1), ("a0", "b0", 0.5),
           ("e0", "a0", 1), ("f0", "a1", 1), ("t0", "a0", 4), ("t0", "c0", 4)]
  edges = {tuple(sorted((n[x], n[y]))): float(w) for x, y, w in pairs}
  feature_ids = [i for name, i in n.items() if name != "f0"]
  world = write_world(root, paths, edges, feature_ids)
  world.names = n
  return world


def read_triplets(output_dir: str) -> list[dict]:
  """Parsed contract-5 records of an output directory (our parser)."""
  paths = sorted(glob.glob(sharded_io.shard_glob(os.path.join(output_dir, "triplets"),
                                                 ".tfrecord")))
  return [tf_example.parse(r) for r in files.read_tfrecords(paths)] if paths else []


def triplet_tuples(records) -> list[tuple]:
  return [(r["anchor/id"][0].decode(), r["positive/id"][0].decode(),
           r["negative/id"][0].decode(), r["level"][0]) for r in records]


def output_bytes(output_dir: str) -> dict:
  """Every file under an output directory: relative path -> bytes."""
  out = {}
  for dirpath, _, names in os.walk(output_dir):
    for name in names:
      path = os.path.join(dirpath, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, output_dir)] = f.read()
  return out
