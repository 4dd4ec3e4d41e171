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
from pipelines import export, related_items, sharded_io, tf_example
from tests.pipelines import files

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
  assert lines.count(related_items.HEADER) == 2
  rows = [l.split("\t") for l in lines if l != related_items.HEADER]
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
  with pytest.raises(related_items.IndexTooLargeError):
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
