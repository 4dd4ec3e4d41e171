"""The in-memory engine's shared reads: several evaluations, each with its bytes alone."""

import os

import numpy as np

from pipelines.evaluation import local_engine
from pipelines.evaluation import stage as evaluate
from tests.pipelines.evaluation.evaluate_inputs import write_embeddings


def _config(root, emb_glob, out):
  return evaluate.EvaluateConfig(emb_glob, f"{root}/w/edges-*.csv",
                                 f"{root}/w/features-*.tfrecord", out, query_block=7)


def test_shared_reads_compute_each_key_once():
  shared, calls = local_engine.SharedReads(), []
  assert shared.get(("a", 1), lambda: calls.append("a") or [1]) == [1]
  assert shared.get(("a", 1), lambda: calls.append("again") or [2]) == [1]
  assert shared.get(("a", 2), lambda: calls.append("b") or [3]) == [3]
  assert calls == ["a", "b"]


def test_run_configs_write_the_bytes_of_separate_runs(world, tmp_path):
  root, feats, _ = world
  rng = np.random.default_rng(3)
  globs = [write_embeddings(str(tmp_path), name, {i: rng.normal(size=5) for i in feats})
           for name in ("m1", "m2")]
  # m3 lacks some items: its raw-feature baseline is scored on other items, not reused.
  globs.append(write_embeddings(str(tmp_path), "m3", {i: rng.normal(size=5)
                                                      for i in sorted(feats)[::2]}))
  together = evaluate.run_configs([_config(root, g, f"{tmp_path}/together/{i}")
                                   for i, g in enumerate(globs)])
  alone = [evaluate.run_config(_config(root, g, f"{tmp_path}/alone/{i}"))
           for i, g in enumerate(globs)]
  for i in range(len(globs)):
    for name in ("metrics.json", "metrics.md", "map_at_60.png"):
      with open(f"{tmp_path}/together/{i}/{name}", "rb") as a, \
          open(f"{tmp_path}/alone/{i}/{name}", "rb") as b:
        assert a.read() == b.read()
  assert together[0]["retrieval"]["raw_features"] == together[1]["retrieval"]["raw_features"]
  assert together[2]["split"]["queries"] != together[0]["split"]["queries"]
  assert together[2]["retrieval"]["raw_features"] == alone[2]["retrieval"]["raw_features"]
  assert os.path.exists(f"{tmp_path}/together/2/ndcg_at_60.png")
