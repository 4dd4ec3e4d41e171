"""`examples.local.records`: the Beam engine's shard files."""

from pipelines.io import sharded_io
from pipelines.examples.local import records
from tests.pipelines.examples import worlds


def test_write_shards_equals_write_sorted_shards_local(tmp_path):
  keyed = [(f"{i % 7:03d}|k{i}", f"line {i}") for i in range(50)] + [("001|k1", "again")]
  records.write_shards(str(tmp_path / "a" / "x"), ".tsv", 3, keyed, str.upper,
                       sharded_io.TEXT, header="h")
  sharded_io.write_sorted_shards_local([(k, v.upper()) for k, v in keyed],
                                       str(tmp_path / "b" / "x"), ".tsv", 3, header="h")
  assert worlds.output_bytes(str(tmp_path / "a")) == worlds.output_bytes(str(tmp_path / "b"))
