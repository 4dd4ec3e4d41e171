"""gcml export --engine=local writes the Beam engine's bytes (1 and 2 workers), every file."""

import numpy as np
import pytest
import tensorflow as tf

from model.config import EmbeddingModelConfig, ModalityConfig
from model.export import export_saved_model
from model.towers import EmbeddingModel
from pipelines.export import saved_model as export_model
from pipelines.export import stage as export
from pipelines.io import tf_example
from tests.pipelines.examples.worlds import output_bytes
from tests.pipelines.export.export_helpers import BEAM, write_non_finite_world
from tests.pipelines import files

MODS = (("mean_rgb", 16), ("mean_audio", 4))


def _record(item_id, rng, **override):
  return tf_example.encode({"id": item_id, **{n: rng.normal(size=d).astype(np.float32)
                                               for n, d in MODS}, **override})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  """A model and 3 feature files with every kind of bad record."""
  root = tmp_path_factory.mktemp("export_local")
  tf.keras.utils.set_random_seed(2)
  model = EmbeddingModel(EmbeddingModelConfig.demo(
      modalities=tuple(ModalityConfig(n, d) for n, d in MODS), hidden_units=(24,),
      embedding_dim=8))
  export_saved_model(model, str(root / "model" / "export"))
  rng = np.random.default_rng(7)
  records = [_record(f"i{j:04d}", rng) for j in range(150)]
  records += [_record("i0007", rng), _record("i0007", rng),  # duplicates: bytes decide
              b"not an example", _record("short", rng, mean_rgb=np.ones(3, np.float32)),
              _record("nan", rng, mean_audio=np.array([np.nan, 0, 0, 0], np.float32)),
              tf_example.encode({"mean_rgb": np.ones(16, np.float32)})]  # no id
  for part in range(3):
    files.write_tfrecord(str(root / "in" / f"f-{part}.tfrecord"), records[part::3])
  with open(root / "in" / "f-2.tfrecord", "ab") as f:
    f.write(b"\x40\x00\x00")  # a frame cut short: the rest of the file is rejected
  return root





def _export(root, model, out, extra):
  return export.run([f"--model_dir={model}", f"--features={root}/in/f-*",
                     f"--output_dir={out}", "--top_k=5", "--batch_size=16", "--query_batch=9",
                     "--num_shards=2", *extra])


ANN_FLAGS = {"exact": [], "ivfpq": ["--ann_nprobe=4", "--ann_code_bytes=4", "--ann_rerank=12"],
             "ivfflat": ["--ann_nlist=6", "--ann_nprobe=2"]}


@pytest.mark.parametrize("search,workers", [("exact", 1), ("exact", 2), ("ivfpq", 1),
                                            ("ivfflat", 1), ("ivfflat", 2)])
def test_local_engine_writes_the_beam_bytes(world, tmp_path, search, workers):
  flags = [f"--search={search}"] + ANN_FLAGS[search]
  model = world / "model"
  local = _export(world, model, tmp_path / "local", flags + ["--engine=local",
                                                             "--local_max_items=40"])
  beam = _export(world, model, tmp_path / "beam", flags + BEAM[workers])
  assert local == beam
  assert local["export/embedded_items"] == 150 and local["rejected/duplicate_id"] == 2
  assert len([k for k in local if k.startswith("rejected/")]) >= 5, local
  got, want = output_bytes(tmp_path / "local"), output_bytes(tmp_path / "beam")
  assert sorted(got) == sorted(want)
  for name in want:
    assert got[name] == want[name], name
  assert len([n for n in want if n.startswith("rejected")]) == 2  # the shard, its manifest


def test_non_finite_embeddings_match(tmp_path):
  write_non_finite_world(tmp_path)
  local = _export(tmp_path, tmp_path / "model", tmp_path / "local", ["--engine=local"])
  beam = _export(tmp_path, tmp_path / "model", tmp_path / "beam", BEAM[1])
  assert local == beam and local["rejected/embedding_not_finite"] == 2
  assert output_bytes(tmp_path / "local") == output_bytes(tmp_path / "beam")


@pytest.mark.parametrize("dim", [0, 1, 31, 32, 80])
def test_bulk_embedding_records_are_the_per_record_bytes(dim):
  # id lengths around the 1- and 2-byte length varints (127, 128 bytes), non-ASCII ids
  ids = ["", "a", "x" * 127, "y" * 128, "é" * 70, "i0000005"]
  matrix = np.random.default_rng(dim).normal(size=(len(ids), dim)).astype(np.float32)
  got = export_model.embedding_records(ids, matrix)
  assert got == [export_model.embedding_record(i, v) for i, v in zip(ids, matrix)]
  parsed = tf_example.parse(got[3][1])
  assert parsed["id"] == [b"y" * 128]
  np.testing.assert_array_equal(parsed["embedding"], matrix[3])
