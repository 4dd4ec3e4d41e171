"""ann_retrieval (and its Beam half): IVF candidates re-ranked exactly; every list probed gives
the exact metrics; the Beam transform gives the in-memory values.
"""

import json

import apache_beam as beam
import numpy as np
import pytest
import scipy.sparse
from apache_beam.options.pipeline_options import PipelineOptions

from model import metrics
from pipelines.evaluation import ann_retrieval, ann_retrieval_beam
from pipelines.export import related_ann


def _world(n=500, d=8, seed=0):
  """Random vectors; each item related to one of its 5 nearest items and one random item."""
  rng = np.random.default_rng(seed)
  vectors = rng.normal(size=(n, d)).astype(np.float32)
  units = metrics.normalize_rows(vectors)
  nearest = np.argsort(-(units @ units.T), axis=1)[:, 1:6]
  pairs = {(i, int(nearest[i, rng.integers(0, 5)])) for i in range(n)}
  pairs |= {(i, int(j)) for i, j in enumerate(rng.integers(0, n, n)) if i != j}
  pairs |= {(j, i) for i, j in pairs}
  rows, cols = zip(*sorted(pairs))
  relevance = scipy.sparse.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n, n))
  ids = [f"item{i:05d}" for i in range(n)]
  return ids, vectors, relevance


def _exact(vectors, relevance, k):
  n = vectors.shape[0]
  exclude = scipy.sparse.identity(n, dtype=bool, format="csr")
  return metrics.retrieval_metrics(vectors, vectors, relevance, exclude, k, k, block=64)


def test_every_list_probed_gives_the_exact_values_bit_for_bit():
  ids, vectors, relevance = _world()
  units = metrics.normalize_rows(vectors)
  sims = -np.sort(-(units @ units.T), axis=1)  # [:, 0]: the item itself
  # Data chosen without near-ties where the index's float32 scores cut the lists: each
  # query's k-th and (k+1)-th candidates differ by over 100 x float32's error on these
  # cosines, so the index keeps the exact top k, the float64 re-rank orders them as the
  # exact ranking does, and the values must be equal, not close.
  assert np.all(sims[:, 0] > sims[:, 1] + 1e-3)
  for k in (5, 60):
    assert np.min(sims[:, k] - sims[:, k + 1]) > 1e-5
  for kind in related_ann.INDEX_KINDS:
    for k in (60, 5):
      search = ann_retrieval.Search(kind, related_ann.AnnParams(
          nprobe=10_000, nlist=8, train_size=500, kind=kind))
      got = ann_retrieval.retrieval_metrics(ids, vectors, relevance, search, k, k, block=50)
      want = _exact(vectors, relevance, k)
      if kind == "ivfpq":  # approximate (PQ) candidates: the exact top k can be missed
        assert 0 < got[f"map@{k}"] <= 1 and 0 < got[f"ndcg@{k}"] <= 1
        continue
      assert got[f"map@{k}"] == want[f"map@{k}"], k
      assert got[f"ndcg@{k}"] == want[f"ndcg@{k}"], k
      assert got["map_full_list"] is None and want["map_full_list"] > 0
      assert {x: got[x] for x in ("num_queries", "num_database", "mean_relevant")} == {
          x: want[x] for x in ("num_queries", "num_database", "mean_relevant")}


def test_values_do_not_depend_on_threads_or_blocks_and_misses_lower_them():
  ids, vectors, relevance = _world(seed=1)
  search = ann_retrieval.Search("ivfflat", related_ann.AnnParams(
      nprobe=1, nlist=16, train_size=700, kind="ivfflat"))
  one = ann_retrieval.retrieval_metrics(ids, vectors, relevance, search, block=700, threads=1)
  two = ann_retrieval.retrieval_metrics(ids, vectors, relevance, search, block=33, threads=2)
  assert one == two
  exact = _exact(vectors, relevance, 60)
  assert one["map@60"] < exact["map@60"] and one["ndcg@60"] < exact["ndcg@60"]
  assert one["map@60"] > 0.5 * exact["map@60"]


def test_index_is_the_same_bytes_each_time():
  ids, vectors, _ = _world(n=300)
  params = related_ann.AnnParams(nprobe=2, nlist=4, train_size=200, kind="ivfpq")
  a = ann_retrieval.build_index(ids, vectors, params)
  b = ann_retrieval.build_index(ids, vectors.copy(), params)
  assert a.ids == b.ids == tuple(ids) and bytes(a.blob) == bytes(b.blob)
  assert ann_retrieval.Search("ivfpq", params).record() == {
      "kind": "ivfpq", "nprobe": 2, "nlist": 4, "train_size": 200, "code_bytes": 0}
  with pytest.raises(AttributeError):
    ann_retrieval.Search().kind = "x"  # frozen


def _beam_metrics(ids, vectors, raw, relevance, search, out_path, runner_args):
  """ann_retrieval_beam.AnnRetrieval's means per model, through a pipeline with `runner_args`."""
  n = len(ids)
  queries = [(ids[i], [ids[j] for j in relevance[i].indices], (vectors[i], raw[i]))
             for i in range(n)]
  with beam.Pipeline(options=PipelineOptions(runner_args)) as pipeline:
    _ = (pipeline
         | beam.Create(queries)
         | ann_retrieval_beam.AnnRetrieval(search, 60, 60, query_block=37)
         | beam.GroupByKey()
         | beam.MapTuple(lambda m, rows: (m, metrics.RetrievalTotals().add_rows(rows).result(n)))
         | beam.combiners.ToList()
         | beam.Map(_write_json, out_path))
  with open(out_path, encoding="utf-8") as f:
    return dict(json.load(f))


def _write_json(value, path):
  with open(path, "w", encoding="utf-8") as f:
    json.dump(value, f)


@pytest.mark.parametrize("kind,runner_args", [
    ("ivfflat", ["--runner=FnApiRunner"]),
    ("ivfpq", ["--runner=FnApiRunner", "--direct_num_workers=2",
               "--direct_running_mode=multi_processing"])])
def test_beam_transform_gives_the_in_memory_values(tmp_path, kind, runner_args):
  ids, vectors, relevance = _world(n=400, seed=2)
  raw = np.random.default_rng(5).normal(size=(400, 5)).astype(np.float32)
  # Few lists probed: the candidate lists differ from the exact ones, both engines must agree.
  search = ann_retrieval.Search(kind, related_ann.AnnParams(
      nprobe=2, nlist=8, train_size=300, kind=kind))
  want = {model: ann_retrieval.retrieval_metrics(ids, v, relevance, search, block=64)
          for model, v in (("embeddings", vectors), ("raw_features", raw))}
  got = _beam_metrics(ids, vectors, raw, relevance, search, str(tmp_path / "got"), runner_args)
  assert got == want
  assert want["embeddings"]["map@60"] < _exact(vectors, relevance, 60)["map@60"]
