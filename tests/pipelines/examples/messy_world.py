"""A small world with every kind of bad input the examples stage rejects or counts."""

import os

import numpy as np

from pipelines.io import sharded_io, tf_example
from pipelines.io.cluster_tables import reader as tables
from tests.pipelines.examples import worlds
from tests.pipelines import files


def _write_assignments(clusters_dir: str, paths: dict, bad_lines: list[bytes]) -> None:
  """Contract-4 tables in two shards, with raw bad lines in the second, and their manifest."""
  header = b"id\tl0\tl1\tl2\n"
  rows = sorted("\t".join([i, *p]).encode() + b"\n" for i, p in paths.items())
  half = len(rows) // 2
  shards = [header + b"".join(rows[:half]),
            header + b"".join(rows[half:]) + b"".join(x + b"\r\n" for x in bad_lines)]
  prefix = os.path.join(clusters_dir, tables.ASSIGNMENTS)
  sharded_io.remove_shards(prefix, ".tsv")
  entries = []
  for i, data in enumerate(shards):
    path = sharded_io.shard_path(prefix, i, 2, ".tsv")
    with open(path, "wb") as f:
      f.write(data)
    entries.append((os.path.basename(path), len(data), sharded_io.shard_sets.crc32c_hex(data)))
  sharded_io.write_manifest(prefix, ".tsv", 2, entries)


def messy_world(root: str) -> worlds.World:
  """`worlds.hand_world` plus a bigger random part and bad records of every kind."""
  world = worlds.hand_world(root)
  rng = np.random.default_rng(7)
  names = [f"r{i}" for i in range(120)]
  for i, name in enumerate(names):
    world.paths[name] = (f"R{i % 12}", f"Q{i % 4}", f"P{i % 2}")
  for _ in range(500):
    a, b = rng.choice(names, 2, replace=False)
    world.edges[tuple(sorted((a, b)))] = float(rng.integers(1, 9)) / 2
  for name in names[:110]:
    world.features[name] = {k: rng.normal(size=d).astype(np.float32)
                            for k, d in worlds.DIMS.items()}
  a0 = world.names["a0"]
  records = [tf_example.encode({"id": i, **f}) for i, f in sorted(world.features.items())]
  records += [b"not a proto", tf_example.encode({"mean_rgb": np.ones(6, np.float32)}),
              tf_example.encode({"id": "short", "mean_rgb": np.ones(5, np.float32),
                                 "mean_audio": np.ones(3, np.float32)}),
              tf_example.encode({"id": "nan", "mean_rgb": np.full(6, np.nan, np.float32),
                                 "mean_audio": np.ones(3, np.float32)}),
              tf_example.encode({"id": a0, "mean_rgb": np.ones(6, np.float32),
                                 "mean_audio": np.ones(3, np.float32)})]
  files.write_tfrecord(os.path.join(root, "in", "features-0.tfrecord"), records[::2])
  files.write_damaged_tfrecord(os.path.join(root, "in", "features-1.tfrecord"), records[1::2],
                               bad_checksum=3)
  lines = ["src,dst,weight"] + [f"{a},{b},{w}" for (a, b), w in sorted(world.edges.items())]
  lines += ["not,a,number", "x,x,1", "a,b,nan", "a,b,inf", "a,b,0", "a,b,-1", ",b,1",
            "a,b,1,2", '"a,b,1', "a\x01,b,1", "", "SRC,DST,WEIGHT", f"{a0},r1,1_000",
            f'"{a0}",r2,2', f" {a0} , r3 ,3"]
  files.write_text(os.path.join(root, "in", "edges-0.csv"), lines)
  with open(os.path.join(root, "in", "edges-1.csv"), "wb") as f:
    f.write(b"\xef\xbb\xbfr4,r5,2\r\n\xff\xfe,q,1\nr5,r4,7\nr6,r7,1e308\nr7,r6,1e308")
  bad = [b"only_two\tM0", b"\tM0\tS0\tT0", b"x\t\tS0\tT0", b"\xff\xfe\tM0\tS0\tT0",
         "\t".join([a0, "M9", "S9", "T9"]).encode(), "\t".join(["r5", "R0", "Q0", "P0"]).encode()]
  _write_assignments(world.clusters_dir, world.paths, bad)
  return world
