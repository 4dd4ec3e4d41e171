"""gcml evaluate end to end on a tiny synthetic world, against an independent computation."""

import collections
import json
import os

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, ndcg_score

from launch import main as gcml
from pipelines.evaluation import stage as evaluate
from pipelines import split
from pipelines.io import sharded_io, tf_example
from tests.pipelines.evaluation.evaluate_inputs import evaluate_args, write_embeddings
from tests.pipelines.evaluation.training_events import write_run


def _ap_at_60(rel, scores):
  """The paper's AP@60 from its definition: sum_{i<=60} P(i) rel_i / R."""
  ranked = rel[np.argsort(-scores, kind="stable")]
  hits = 0
  total = 0.0
  for i, r in enumerate(ranked[:60], start=1):
    hits += r
    total += r * hits / i
  return total / rel.sum()


def _independent(feats_vec, edges):
  """MAP@60, whole-list MAP (sklearn) and NDCG@60 (sklearn) from the definitions."""
  related = collections.defaultdict(set)
  for a, b in edges:
    if split.is_test(a) and split.is_test(b) and a != b:
      related[a].add(b)
      related[b].add(a)
  queries = sorted(related)
  database = sorted(set().union(*related.values()))
  db = np.stack([feats_vec[d] for d in database])
  db = db / np.linalg.norm(db, axis=1, keepdims=True)
  aps, full_aps, ndcgs = [], [], []
  for q in queries:
    cand = [j for j, d in enumerate(database) if d != q]
    v = feats_vec[q] / np.linalg.norm(feats_vec[q])
    s = db[cand] @ v
    rel = np.array([database[j] in related[q] for j in cand], int)
    aps.append(_ap_at_60(rel, s))
    full_aps.append(average_precision_score(rel, s))
    ndcgs.append(ndcg_score([rel], [s], k=60))
  return np.mean(aps), np.mean(full_aps), np.mean(ndcgs), len(queries), len(database)


def test_raw_baseline_and_embeddings_match_an_independent_computation(world):
  root, feats, edges = world
  rng = np.random.default_rng(0)
  emb = {i: rng.normal(size=6) for i in feats}  # every item: train ones are ignored
  out = os.path.join(root, "out")
  result = evaluate.run(evaluate_args(root, write_embeddings(root, "random", emb), out))
  raw = {i: np.concatenate([r / np.linalg.norm(r), a / np.linalg.norm(a)])
         for i, (r, a) in feats.items()}
  for name, vectors in (("raw_features", raw), ("embeddings", emb)):
    want_map, want_full_map, want_ndcg, nq, ndb = _independent(vectors, edges)
    got = result["retrieval"][name]
    assert got["num_queries"] == nq and got["num_database"] == ndb
    assert got["map@60"] == pytest.approx(want_map, rel=1e-6), name
    assert got["map_full_list"] == pytest.approx(want_full_map, rel=1e-6), name
    assert got["ndcg@60"] == pytest.approx(want_ndcg, rel=1e-6), name
  # Synthetic content features carry the graph's structure; random embeddings do not.
  assert (result["retrieval"]["raw_features"]["map@60"] >
          result["retrieval"]["embeddings"]["map@60"])
  assert result["split"]["queries"] == nq

  with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
    assert json.load(f)["retrieval"]["embeddings"]["map@60"] == pytest.approx(
        result["retrieval"]["embeddings"]["map@60"])
  with open(os.path.join(out, "metrics.md"), encoding="utf-8") as f:
    table = f.read()
  assert "| raw_features |" in table and "MAP@60 | NDCG@60" in table
  for png in ("map_at_60.png", "ndcg_at_60.png"):
    with open(os.path.join(out, png), "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_embeddings_equal_to_the_baseline_score_the_same(world):
  root, feats, _ = world
  raw = {i: np.concatenate([r / np.linalg.norm(r), a / np.linalg.norm(a)])
         for i, (r, a) in feats.items() if split.is_test(i)}
  result = evaluate.run(evaluate_args(root, write_embeddings(root, "same", raw),
                                      os.path.join(root, "out2")))
  a, b = result["retrieval"]["embeddings"], result["retrieval"]["raw_features"]
  assert a["map@60"] == pytest.approx(b["map@60"], abs=1e-6)
  assert a["ndcg@60"] == pytest.approx(b["ndcg@60"], abs=1e-6)


def test_cli_errors_are_one_line(world, tmp_path):
  root, _, _ = world
  code = gcml.main(["evaluate"] + evaluate_args(root, f"{tmp_path}/none-*.tfrecord",
                                                f"{tmp_path}/o"))
  assert code == 2
  code = gcml.main(["evaluate"] + evaluate_args(root, f"{root}/same/embeddings-*.tfrecord",
                                                f"{tmp_path}/o") + ["--labels_from=x"])
  assert code == 2


def test_annotation_on_embeddings_and_raw_features(world):
  root, feats, _ = world
  raw = {i: np.concatenate([r / np.linalg.norm(r), a / np.linalg.norm(a)])
         for i, (r, a) in feats.items()}
  out = os.path.join(root, "out3")
  result = evaluate.run(evaluate_args(root, write_embeddings(root, "all", raw), out) + [
      f"--labels_from={root}/w/features-*.tfrecord", "--annotation_hidden=32",
      "--annotation_steps=40", "--annotation_batch=64"])
  assert set(result["annotation"]) == {"embeddings", "raw_features", "embeddings+raw_features"}
  split_counts = result["annotation_split"]
  assert split_counts["train_items"] + split_counts["test_items"] == 300
  for row in result["annotation"].values():
    assert set(row) == {"gap@20", "map", "hit@1", "hit@5"}
    assert all(0 <= v <= 1 for v in row.values())
    assert row["hit@5"] >= row["hit@1"]
  with open(os.path.join(out, "metrics.md"), encoding="utf-8") as f:
    assert "| embeddings+raw_features |" in f.read()
  assert os.path.exists(os.path.join(out, "annotation_gap_at_20.png"))


def test_training_summaries_from_model_dirs(world, tmp_path):
  root, feats, _ = world
  raw = {i: np.concatenate([r, a]) for i, (r, a) in feats.items()}
  gcml_dir = write_run(str(tmp_path / "gcml_run"))
  cdml_dir = write_run(str(tmp_path / "cdml_run"), gcml=False)
  out = str(tmp_path / "out")
  result = evaluate.run(evaluate_args(root, write_embeddings(root, "summaries", raw), out) + [
      f"--model_dir=GCML={gcml_dir}", f"--model_dir=CDML={cdml_dir}"])
  assert sorted(result["training"]) == ["CDML", "GCML"]
  with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
    saved = json.load(f)
  assert saved["training"]["GCML"]["margins"]["steps"] == [10, 200]
  with open(os.path.join(out, "metrics.md"), encoding="utf-8") as f:
    md = f.read()
  assert "| GCML | early | 10 |" in md and "| GCML | late | 200 |" in md
  for png in ("usage_ratio.png", "training_curves.png"):
    with open(os.path.join(out, png), "rb") as f:
      assert f.read(4) == b"\x89PNG"
  code = gcml.main(["evaluate",
                    *evaluate_args(root, write_embeddings(root, "summaries", raw), out),
                    f"--model_dir={tmp_path}/none"])
  assert code == 2


def _test_vectors(feats, dim=6):
  rng = np.random.default_rng(3)
  return {i: rng.normal(size=dim) for i in sorted(feats) if split.is_test(i)}


def _one_line_error(capsys, argv):
  code = gcml.main(["evaluate"] + argv)
  lines = capsys.readouterr().err.strip().splitlines()
  assert code == 2
  assert lines[-1].startswith("gcml evaluate: error: "), lines[-3:]
  return lines[-1]


def test_mixed_dimensions_are_one_line_naming_both(world, tmp_path, capsys):
  root, feats, _ = world
  vectors = _test_vectors(feats)
  ids = sorted(vectors)
  a = write_embeddings(str(tmp_path), "a", {i: vectors[i] for i in ids[:20]})
  b = write_embeddings(str(tmp_path), "b", {i: vectors[i][:4] for i in ids[20:]})
  line = _one_line_error(capsys, evaluate_args(root, f"{a},{b}", f"{tmp_path}/o"))
  assert "embeddings of 6 values in" in line and "of 4 values in" in line
  assert f"{tmp_path}/a/embeddings-" in line and f"{tmp_path}/b/embeddings-" in line


def test_duplicate_ids_are_one_line_not_last_wins(world, tmp_path, capsys):
  root, feats, _ = world
  vectors = _test_vectors(feats)
  a = write_embeddings(str(tmp_path), "a", vectors)
  b = write_embeddings(str(tmp_path), "b", {k: -v for k, v in vectors.items()})
  line = _one_line_error(capsys, evaluate_args(root, f"{a},{b}", f"{tmp_path}/o"))
  assert "appears in" in line and "each id must appear once" in line
  # Twice in one file (a shard set of one shard, with its manifest).
  item = sorted(vectors)[0]
  prefix = os.path.join(str(tmp_path), "one", "embeddings")
  sharded_io.write_sorted_shards_local(
      [(f"{item}-{k}", tf_example.encode({"id": item, "embedding": v.astype(np.float32)}))
       for k, v in enumerate((vectors[item], -vectors[item]))], prefix, ".tfrecord", 1,
      sharded_io.TFRECORD)
  one = sharded_io.shard_path(prefix, 0, 1, ".tfrecord")
  line = _one_line_error(capsys, evaluate_args(root, prefix + "-*.tfrecord", f"{tmp_path}/o"))
  assert f"id {item!r} appears twice in {one}" in line


def test_non_finite_embeddings_are_counted_and_left_out(world, tmp_path):
  root, feats, _ = world
  vectors = _test_vectors(feats)
  bad = sorted(vectors)[:5]
  broken = {k: (np.full(6, np.nan) if k in bad[:3] else
                np.array([np.inf, 0, 0, 0, 0, 0.0]) if k in bad else v)
            for k, v in vectors.items()}
  out = os.path.join(str(tmp_path), "o")
  result = evaluate.run(evaluate_args(root, write_embeddings(str(tmp_path), "nan", broken), out))
  clean = evaluate.run(evaluate_args(root, write_embeddings(
      str(tmp_path), "clean", {k: v for k, v in vectors.items() if k not in bad}),
      os.path.join(str(tmp_path), "o2")))
  assert result["rejected"] == {"embeddings/embedding_not_finite": 5}
  assert clean["rejected"] == {}
  assert result["split"]["test_items_with_embedding"] == len(vectors) - 5
  assert result["retrieval"] == clean["retrieval"]
  for row in result["retrieval"].values():
    assert np.isfinite(row["map@60"]) and np.isfinite(row["ndcg@60"])
  with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
    assert json.load(f)["rejected"] == {"embeddings/embedding_not_finite": 5}


def test_ivf_search_every_list_probed_scores_as_exact(world, tmp_path):
  root, feats, _ = world
  emb = write_embeddings(str(tmp_path), "e", _test_vectors(feats))
  exact = evaluate.run(evaluate_args(root, emb, f"{tmp_path}/exact"))
  out = f"{tmp_path}/ivf"
  ivf = evaluate.run(evaluate_args(root, emb, out) + [
      "--search=ivfflat", "--ann_nlist=4", "--ann_nprobe=4"])
  assert exact["search"] == {"kind": "exact"}
  assert ivf["search"] == {"kind": "ivfflat", "nprobe": 4, "nlist": 4, "train_size": 65536}
  # Every list probed: each query's top 60 are the exact ranking's (random vectors, no
  # near-ties at rank 60 of 75 candidates), so the same ranks and the same bits.
  for name, row in ivf["retrieval"].items():
    assert row["map_full_list"] is None
    assert {k: v for k, v in row.items() if k != "map_full_list"} == {
        k: v for k, v in exact["retrieval"][name].items() if k != "map_full_list"}, name
  with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
    assert json.load(f)["retrieval"]["embeddings"]["map_full_list"] is None
  with open(os.path.join(out, "metrics.md"), encoding="utf-8") as f:
    assert "faiss ivfflat index (nprobe 4)" in f.read()
  assert os.path.exists(os.path.join(out, "map_at_60.png"))


def test_bad_search_flags_are_one_line(world, tmp_path, capsys):
  root, feats, _ = world
  emb = write_embeddings(str(tmp_path), "e", _test_vectors(feats))
  line = _one_line_error(capsys, evaluate_args(root, emb, f"{tmp_path}/o") + [
      "--search=ivfflat", "--ann_nprobe=0"])
  assert "--ann_nprobe" in line
  with pytest.raises(SystemExit):
    evaluate.parse_args(evaluate_args(root, emb, f"{tmp_path}/o") + ["--search=hnsw"])
