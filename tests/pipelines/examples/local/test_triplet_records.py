"""`examples.local.triplet_records`: the Beam engine's triplet records and shards, in bulk."""

import collections

import numpy as np

from pipelines import hashing, hashing_vectorised
from pipelines.examples.join_features import triplet_record
from pipelines.examples.local import triplet_records
from pipelines.io import sharded_io
from pipelines.io.features import parse_modalities
from tests.pipelines.examples import worlds

MODALITIES = parse_modalities("mean_rgb:5,zz:1,a:2")
IDS = ["a", "bé", "c" * 300, "d1", "e2", "id"]
NAMES = hashing_vectorised.encoded(IDS)


def _vectors():
  rng = np.random.default_rng(0)
  return {m.name: rng.normal(size=(len(IDS), m.dim)).astype(np.float32) for m in MODALITIES}


def _reference(triplets, vectors, seed, out, num_shards):
  """The records as `join_features._Encode` and `WriteSortedShards` write them."""
  records = []
  for (a, p, n, level), _ in collections.Counter(triplets).items():
    features = [{m.name: vectors[m.name][i] for m in MODALITIES} for i in (a, p, n)]
    key = f"{hashing.order_key(seed, IDS[a], IDS[p])}|{IDS[a]}|{IDS[p]}"
    records.append((key, triplet_record((IDS[a], IDS[p], IDS[n]), level, features, MODALITIES)))
  sharded_io.write_sorted_shards_local(records, out, ".tfrecord", num_shards,
                                       sharded_io.TFRECORD)


def test_write_triplets_writes_the_beam_bytes_and_counts(tmp_path):
  # Duplicates, ids of 1 to 300 bytes (one not ASCII), random and level triplets, and one
  # (anchor, positive) slot with several negatives: records with one key, ordered by payload.
  triplets = [(0, 1, 2, 0), (0, 1, 2, 0), (2, 0, 1, -1), (3, 4, 5, 1), (3, 4, 0, 2),
              (3, 4, 1, 0), (3, 4, 1, 10), (5, 0, 3, -1), (1, 2, 3, 0), (1, 2, 3, 0),
              (1, 2, 3, 0), (4, 3, 2, 1)]
  vectors = _vectors()
  counts = collections.Counter()
  columns = tuple(np.array(c, np.int64) for c in zip(*triplets))
  triplet_records.write_triplets(str(tmp_path / "local" / "triplets"), 3, columns, NAMES,
                                 lambda name, used: vectors[name][used], MODALITIES, 7, counts)
  _reference(triplets, vectors, 7, str(tmp_path / "beam" / "triplets"), 3)
  assert worlds.output_bytes(str(tmp_path / "local")) == worlds.output_bytes(
      str(tmp_path / "beam"))
  assert counts == {"triplets/duplicates_merged": 3, "triplets/total": 9,
                    "triplets/level_0": 3, "triplets/level_1": 2, "triplets/level_2": 1,
                    "triplets/level_10": 1, "triplets/random": 2}


def test_no_triplets_writes_empty_shards(tmp_path):
  counts = collections.Counter()
  empty = tuple(np.zeros(0, np.int64) for _ in range(4))
  triplet_records.write_triplets(str(tmp_path / "local" / "triplets"), 2, empty, NAMES,
                                 lambda name, used: _vectors()[name][used], MODALITIES, 0, counts)
  _reference([], _vectors(), 0, str(tmp_path / "beam" / "triplets"), 2)
  assert worlds.output_bytes(str(tmp_path / "local")) == worlds.output_bytes(
      str(tmp_path / "beam"))
  assert not counts
