"""The IVF self-join (`--search=ivfflat`): exact when every list is joined, rows independent of BLAS."""

import filecmp
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from threadpoolctl import threadpool_limits

from pipelines.export import ivf_join, related_ann, related_items, related_items_beam
from pipelines.errors import InputError
from pipelines.io import related_rows, sharded_io, sharded_io_beam
from pipelines.io.related_rows import unit_rows
from tests.pipelines import files


def clustered(n: int, dim: int, clusters: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  centers = rng.normal(size=(clusters, dim)).astype(np.float32)
  x = centers[rng.integers(0, clusters, n)] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
  return [f"i{j:06d}" for j in range(n)], x


def _lists(ids, x, nprobe, train_size=2000, nlist=0):
  params = related_ann.AnnParams(kind="ivfflat", train_size=train_size, nlist=nlist)
  pairs = list(zip(ids, x))
  sample = sorted(pairs, key=lambda kv: related_ann.sample_key(kv[0]))[:params.train_size]
  trained = related_ann.train_index(sample, len(ids), params)
  faiss = related_ann.configure_faiss()
  codes = faiss.deserialize_index(trained).sa_encode(unit_rows(x))
  ann = related_ann.build_index([(i, c.tobytes()) for i, c in zip(ids, codes)], trained)
  return ivf_join.ivf_lists(faiss.deserialize_index(ann.blob), nprobe)


def _join_all(lists, n, k):
  """(neighbours, scores, counts) of every row, from `join_list` of every list."""
  neighbours, scores = np.zeros((n, k), np.int64), np.zeros((n, k), np.float32)
  counts = np.zeros(n, np.int64)
  for l in range(len(lists.offsets) - 1):
    found = ivf_join.join_list(lists, l, k)
    neighbours[found.rows], scores[found.rows], counts[found.rows] = (
        found.neighbours, found.scores, found.counts)
  return neighbours, scores, counts


def test_lists_hold_every_item_once_with_its_unit_vector():
  ids, x = clustered(3000, 16, 30, seed=3)
  lists = _lists(ids, x, 4)
  assert sorted(lists.rows.tolist()) == list(range(3000))
  np.testing.assert_array_equal(lists.vectors, unit_rows(x)[lists.rows])
  nlist = len(lists.offsets) - 1
  assert lists.probes.shape == (nlist, 4)
  assert (lists.probes[:, 0] == np.arange(nlist)).all()  # every list joins itself first
  assert all(len(set(p)) == 4 for p in lists.probes.tolist())


def test_joining_every_list_is_the_exact_search():
  ids, x = clustered(3000, 16, 30, seed=3)
  lists = _lists(ids, x, 10_000)
  neighbours, scores, counts = _join_all(lists, 3000, 10)
  assert (counts == 10).all()
  units = unit_rows(x)
  rows = np.arange(3000)
  exact_scores, exact_rows = related_items.top_k_rows(units, rows, units, 10)
  np.testing.assert_array_equal(neighbours, exact_rows)  # no near-ties in this data
  np.testing.assert_allclose(scores, exact_scores, atol=1e-6)
  want = ivf_join.exact_scores(units, units[neighbours])
  np.testing.assert_array_equal(scores, want)  # the scores are `exact_scores`' bits


def test_rows_do_not_depend_on_blas_threads_or_block_shapes(monkeypatch):
  ids, x = clustered(4000, 24, 8, seed=5)
  lists = _lists(ids, x, 3, nlist=10)
  assert max(np.diff(lists.offsets)) > 300  # lists larger than the blocks below
  with threadpool_limits(1, user_api="blas"):
    one = _join_all(lists, 4000, 12)
  monkeypatch.setattr(ivf_join, "QUERY_BLOCK", 37)
  monkeypatch.setattr(ivf_join, "POOL_CHUNK", 101)
  other = _join_all(lists, 4000, 12)
  for a, b in zip(one, other):
    np.testing.assert_array_equal(a, b)


def test_blas_scores_stay_within_the_slack():
  rng = np.random.default_rng(1)
  for dim in (2, 16, 64, 80):
    q = unit_rows(rng.normal(size=(64, dim)).astype(np.float32))
    p = unit_rows(rng.normal(size=(5000, dim)).astype(np.float32))
    blas = q @ p.T
    exact = ivf_join.exact_scores(q, np.broadcast_to(p, (64, 5000, dim)))
    assert np.abs(blas - exact).max() <= ivf_join.score_slack(dim) / 4


def test_ties_by_id_never_itself_and_short_pools():
  vecs = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [-1, 0]], np.float32)
  ids = [f"i{j}" for j in range(len(vecs))]
  lists = _lists(ids, vecs, 8, train_size=5)
  neighbours, scores, counts = _join_all(lists, 5, 6)
  assert (counts == 4).all()  # 5 items: 4 others each
  assert neighbours[1, :2].tolist() == [0, 2]  # equal scores: ids ascending
  assert scores[1, :2].tolist() == [1.0, 1.0]
  assert all(r not in neighbours[r, :counts[r]] for r in range(5))
  assert (neighbours[:, 4:] == 0).all() and (scores[:, 4:] == 0).all()


def _related(prefix, pairs, extra=()):
  options = PipelineOptions(["--runner=FnApiRunner", *extra])
  params = related_ann.AnnParams(nprobe=3, nlist=8, train_size=400, kind="ivfflat")
  with TestPipeline(options=options) as p:
    _ = (p | beam.Create(pairs)
         | related_items_beam.RelatedItems(k=5, query_batch=37, search="ivfflat", ann=params)
         | sharded_io_beam.WriteSortedShards(prefix, ".tsv", 2, sharded_io.TEXT,
                                             related_rows.HEADER))


def test_beam_output_identical_across_runs_and_workers(tmp_path):
  ids, x = clustered(600, 16, 12, seed=1)
  pairs = list(zip(ids, x))
  _related(str(tmp_path / "a" / "related"), pairs)
  _related(str(tmp_path / "b" / "related"), list(reversed(pairs)),
           ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
  names = sorted(os.listdir(tmp_path / "a"))
  assert names == sorted(os.listdir(tmp_path / "b")) and names
  _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
  assert not mismatch and not errors
  rows = [l.split("\t") for l in files.read_shards(str(tmp_path / "a" / "related"), ".tsv")
          if l != related_rows.HEADER]
  assert len(rows) == 600 * 5
  assert all(q != n for q, _, n, _ in rows)


def test_rerank_is_refused_with_ivfflat():
  from pipelines.export import stage as export  # pylint: disable=import-outside-toplevel
  config, _ = export.parse_args(["--model_dir=m", "--features=f", "--output_dir=o",
                                 "--search=ivfflat", "--ann_rerank=120"])
  with pytest.raises(InputError, match="--ann_rerank applies to --search=ivfpq"):
    config.validate()
