"""gcml export: RunInference embeddings equal the model's, top-K equals brute force."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from launch import main as gcml
from model.config import EmbeddingModelConfig, ModalityConfig
from model.export import export_saved_model
from model.towers import EmbeddingModel
from pipelines.export import stage as export, related_items
from pipelines.io import related_rows, sharded_io, tf_example
from tests.pipelines import files
from tests.pipelines.export.export_helpers import write_non_finite_world

MODS = (("mean_rgb", 8), ("mean_audio", 4))
N = 40
K = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("export"))
  tf.keras.utils.set_random_seed(0)
  model = EmbeddingModel(EmbeddingModelConfig.demo(
      modalities=tuple(ModalityConfig(n, d) for n, d in MODS), hidden_units=(16,),
      embedding_dim=8))
  rng = np.random.default_rng(0)
  feats = {f"v{i:03d}": {n: rng.normal(size=d).astype(np.float32) for n, d in MODS}
           for i in range(N)}
  ids = sorted(feats)
  x = {n: np.stack([feats[i][n] for i in ids]) for n, _ in MODS}
  expected = model(x, training=False).numpy()
  export_saved_model(model, os.path.join(root, "model", "export"))
  records = [tf_example.encode({"id": i, **feats[i]}) for i in ids]
  half = N // 2
  files.write_tfrecord(os.path.join(root, "in", "features-0.tfrecord"), records[:half])
  files.write_tfrecord(os.path.join(root, "in", "features-1.tfrecord"),
                       records[half:] + [tf_example.encode({"id": "bad", "mean_rgb": [1.0]})])
  return root, ids, expected


def _brute_force(ids, emb, k):
  e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
  sims = e @ e.T
  out = {}
  for r, qid in enumerate(ids):
    order = [j for j in np.argsort(-sims[r], kind="stable") if j != r][:k]
    out[qid] = [(ids[j], sims[r, j]) for j in order]
  return out


def test_export_embeddings_and_related(world):
  root, ids, expected = world
  out = os.path.join(root, "out")
  section = export.run([f"--model_dir={root}/model", f"--features={root}/in/features-*",
                        f"--output_dir={out}", f"--top_k={K}", "--batch_size=7",
                        "--query_batch=6", "--index_chunk=9", "--runner=FnApiRunner"])
  assert section["export/embedded_items"] == N
  assert sum(v for k, v in section.items() if k.startswith("rejected/")) == 1
  paths = sorted(glob.glob(sharded_io.shard_glob(os.path.join(out, "embeddings"), ".tfrecord")))
  assert len(paths) == 2
  got = {}
  for rec in files.read_tfrecords(paths):
    parsed = tf_example.parse(rec)
    got[parsed["id"][0].decode()] = parsed["embedding"]
  assert sorted(got) == ids
  np.testing.assert_allclose(np.stack([got[i] for i in ids]), expected, atol=1e-5)

  lines = files.read_shards(os.path.join(out, "related"), ".tsv")
  assert lines.count(related_rows.HEADER) == 2
  rows = [l.split("\t") for l in lines if l != related_rows.HEADER]
  assert len(rows) == N * K
  brute = _brute_force(ids, expected, K)
  by_id = {}
  for qid, rank, nid, score in rows:
    by_id.setdefault(qid, []).append((int(rank), nid, float(score)))
  for qid in ids:
    ranked = sorted(by_id[qid])
    assert [r for r, _, _ in ranked] == list(range(1, K + 1))
    assert [n for _, n, _ in ranked] == [n for n, _ in brute[qid]], qid
    np.testing.assert_allclose([s for _, _, s in ranked], [s for _, s in brute[qid]], atol=1e-5)


def test_top_k_block_ties_and_chunks():
  vecs = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [-1, 0]], np.float32)
  index = related_items.build_index([(f"i{j}", v) for j, v in enumerate(vecs)])
  ids = list(index.ids)
  for chunk in (1, 2, 100):
    res = related_items.top_k_block(ids, vecs, index, 3, chunk)
    # i0 and i1 are identical: each other's first; i3 next; ties by id.
    assert [n for n, _ in res[0]] == ["i1", "i3", "i2"]
    assert [n for n, _ in res[2]] == ["i3", "i0", "i1"]
  res = related_items.top_k_block(ids, vecs, index, 10, 2)
  assert all(len(r) == 4 for r in res)  # never the item itself
  with pytest.raises(related_rows.IndexTooLargeError):
    related_items.build_index([(f"i{j}", v) for j, v in enumerate(vecs)], max_bytes=39)


def test_dataflow_job_graph_builds_offline(world):
  root, _, _ = world
  code = gcml.main(["export", f"--model_dir={root}/model", f"--features={root}/in/features-*",
                    f"--output_dir={root}/dry", "--runner=DataflowRunner", "--dry_run=True",
                    "--project=gcml-test", "--region=us-central1",
                    "--temp_location=gs://gcml-test/tmp", "--sdk_location=container"])
  assert code == 0
  assert not os.path.exists(os.path.join(root, "dry", "summary.json"))


def test_missing_model_is_a_one_line_error(tmp_path):
  code = gcml.main(["export", f"--model_dir={tmp_path}/none", f"--features={tmp_path}/x",
                    f"--output_dir={tmp_path}/o"])
  assert code == 2


def _embedding_bytes(out):
  paths = sorted(glob.glob(sharded_io.shard_glob(os.path.join(out, "embeddings"), ".tfrecord")))
  paths += sorted(glob.glob(sharded_io.shard_glob(os.path.join(out, "related"), ".tsv")))
  return {os.path.basename(p): open(p, "rb").read() for p in paths}


def test_export_bytes_do_not_depend_on_file_layout_or_workers(tmp_path):
  """Same items in 1 file or 5, 1 or 2 workers: identical bytes (fixed batch composition)."""
  mods = (("mean_rgb", 64), ("mean_audio", 16))
  tf.keras.utils.set_random_seed(1)
  model = EmbeddingModel(EmbeddingModelConfig.demo(
      modalities=tuple(ModalityConfig(n, d) for n, d in mods), hidden_units=(96,),
      embedding_dim=24))
  export_saved_model(model, str(tmp_path / "model"))
  rng = np.random.default_rng(5)
  records = [tf_example.encode({"id": f"i{j:04d}", **{n: rng.normal(size=d).astype(np.float32)
                                                      for n, d in mods}}) for j in range(300)]
  files.write_tfrecord(str(tmp_path / "one" / "f-0.tfrecord"), records)
  for part in range(5):
    files.write_tfrecord(str(tmp_path / "five" / f"f-{part}.tfrecord"), records[part::5])
  outputs = []
  for layout, workers in (("one", 1), ("five", 1), ("five", 2)):
    out = str(tmp_path / f"out-{layout}-{workers}")
    export.run([f"--model_dir={tmp_path}/model", f"--features={tmp_path}/{layout}/f-*",
                f"--output_dir={out}", "--top_k=5", "--batch_size=7", "--num_shards=2",
                "--runner=FnApiRunner", f"--direct_num_workers={workers}"])
    outputs.append(_embedding_bytes(out))
  assert len(outputs[0]) == 4
  assert outputs[1] == outputs[0]
  assert outputs[2] == outputs[0]


def test_non_finite_embeddings_are_counted_rejections(tmp_path):
  write_non_finite_world(tmp_path)
  out = str(tmp_path / "out")
  section = export.run([f"--model_dir={tmp_path}/model", f"--features={tmp_path}/in/f-*",
                        f"--output_dir={out}", "--top_k=3", "--runner=FnApiRunner"])
  assert section["export/embedded_items"] == 10
  assert section["rejected/embedding_not_finite"] == 2
  got = {}
  for rec in files.read_tfrecords(glob.glob(f"{out}/embeddings-*.tfrecord")):
    parsed = tf_example.parse(rec)
    got[parsed["id"][0].decode()] = parsed["embedding"]
  assert sorted(got) == [f"v{j:02d}" for j in range(12) if j not in (3, 7)]
  assert all(np.all(np.isfinite(v)) for v in got.values())
  related = [l.split("\t") for l in files.read_shards(os.path.join(out, "related"), ".tsv")
             if l != related_rows.HEADER]
  assert not {"v03", "v07"} & ({r[0] for r in related} | {r[2] for r in related})
  lines = "".join(open(p, encoding="utf-8").read()
                  for p in glob.glob(f"{out}/rejected/export-*.tsv"))
  assert "export\tembedding_not_finite\tv03: " in lines and "\tv07: " in lines
