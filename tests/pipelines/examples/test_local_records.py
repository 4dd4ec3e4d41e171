"""`examples.local.records`: the Beam engine's record bytes and shard files."""

import numpy as np

from pipelines.io import sharded_io
from pipelines.examples.join_features import triplet_record
from pipelines.examples.local import records
from pipelines.io.features import Item, parse_modalities
from tests.pipelines.examples import worlds


def test_encoder_writes_triplet_record_bytes():
  modalities = parse_modalities("mean_rgb:200,mean_audio:3,zz:1,a:2")
  rng = np.random.default_rng(0)
  items = {i: Item(i, {m.name: rng.normal(size=m.dim).astype(np.float32) for m in modalities},
                   ()) for i in ("a", "bé", "c" * 300)}
  encoder = records.TripletEncoder(items, modalities)
  for triplet in (("a", "bé", "c" * 300, -1), ("c" * 300, "a", "bé", 2), ("a", "bé", "a", 0)):
    assert encoder.encode(triplet) == triplet_record(
        triplet[:3], triplet[3], [items[i].features for i in triplet[:3]], modalities)


def test_write_shards_equals_write_sorted_shards_local(tmp_path):
  keyed = [(f"{i % 7:03d}|k{i}", f"line {i}") for i in range(50)] + [("001|k1", "again")]
  records.write_shards(str(tmp_path / "a" / "x"), ".tsv", 3, keyed, str.upper,
                       sharded_io.TEXT, header="h")
  sharded_io.write_sorted_shards_local([(k, v.upper()) for k, v in keyed],
                                       str(tmp_path / "b" / "x"), ".tsv", 3, header="h")
  assert worlds.output_bytes(str(tmp_path / "a")) == worlds.output_bytes(str(tmp_path / "b"))
