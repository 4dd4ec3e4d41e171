"""A tiny validation set (`--validation_data`) shared by the model-selection tests.

`GROUPS` groups of items around fixed centres, with edges between the items of a group.
"""

import os

import numpy as np

from pipelines.io import sharded_io, tf_example

MODS = (("mean_rgb", 6), ("mean_audio", 3))
GROUPS = 12
_CENTERS_RNG = np.random.default_rng(0)
CENTERS = {n: _CENTERS_RNG.normal(size=(GROUPS, d)).astype(np.float32) for n, d in MODS}


def group_features(group, rng):
  """One item of `group`: each modality's centre plus noise (standard deviation 0.4)."""
  return {n: CENTERS[n][group] + 0.4 * rng.normal(size=d).astype(np.float32) for n, d in MODS}


def write_validation_set(directory, rng, per_group=6):
  """Writes a validation set: items in groups, edges inside each group.

  Raw features retrieve each item's group well, so a model can be scored against them.

  Args:
    directory: the folder to write `items-*.tfrecord` and `edges-*.tsv` into.
    rng: a `np.random.Generator` for the noise.
    per_group: items per group (`GROUPS` groups).

  Returns:
    `directory`.
  """
  records, edges = [], []
  for g in range(GROUPS):
    ids = [f"val{g}_{i}" for i in range(per_group)]
    for item_id in ids:
      records.append((item_id, tf_example.encode({"id": item_id, **group_features(g, rng)})))
    edges += [f"{a}\t{b}" for a, b in zip(ids, ids[1:])]
  sharded_io.write_sorted_shards_local(records, os.path.join(directory, "items"), ".tfrecord",
                                       2, record_format=sharded_io.TFRECORD)
  sharded_io.write_sorted_shards_local([(e, e) for e in edges], os.path.join(directory, "edges"),
                                       ".tsv", 1, header="src\tdst")
  return directory
