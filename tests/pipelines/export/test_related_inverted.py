"""related_inverted.search: the exact top K over the probed lists, whatever the query block."""

import numpy as np
import pytest

from pipelines.export import local_related, related_ann, related_inverted
from pipelines.export.stage import ExportConfig
from pipelines.io import related_rows
from pipelines.io.related_rows import unit_rows
from tests.pipelines import files
from tests.pipelines.export.export_helpers import BEAM, ann_index, clustered, write_related


def _lists(ids, x, nprobe, **params):
  _, index = ann_index(ids, x, related_ann.AnnParams(kind="ivfflat", **params))
  return related_inverted.from_faiss(index, nprobe)


def _brute_force(lists, query, self_row, k):
  """One query alone: its probed lists' members, Python float sums in dimension order."""
  _, probes = lists.quantizer.search(query[None, :], lists.nprobe)
  found = []
  for l in probes[0][probes[0] >= 0]:
    for p in range(lists.starts[l], lists.starts[l + 1]):
      if lists.rows[p] != self_row:
        score = 0.0
        for a, b in zip(query.tolist(), lists.units[p].tolist()):
          score += a * b
        found.append((-score, int(lists.rows[p])))
  best = sorted(found)[:k]
  return [r for _, r in best], [float(np.float32(-s)) for s, _ in best]


def _rows(lists, units, rows, k, block):
  """search() over `rows` in blocks of `block` queries: per query (rows, scores) lists."""
  out = []
  for s in range(0, len(rows), block):
    part = rows[s:s + block]
    got, scores, counts = related_inverted.search(lists, units[part], part, k)
    out += [(got[q, :c].tolist(), scores[q, :c].tolist()) for q, c in enumerate(counts)]
  return out


def test_search_is_the_brute_force_top_k_over_the_probed_lists():
  ids, x = clustered(3000, 16, 30, seed=5)
  lists = _lists(ids, x, nprobe=3, train_size=2000)
  units = unit_rows(x)
  rows = np.arange(0, 3000, 7)
  got = _rows(lists, units, rows, 10, block=len(rows))
  for q, (found, scores) in zip(rows, got):
    assert (found, scores) == _brute_force(lists, units[q], q, 10)
  # A query's row depends on nothing else: blocks of 1 and 37 queries give the same.
  assert _rows(lists, units, rows[:60], 10, block=1) == got[:60]
  assert _rows(lists, units, rows, 10, block=37) == got


def test_every_list_probed_is_the_exact_search():
  ids, x = clustered(1500, 8, 20, seed=6)
  lists = _lists(ids, x, nprobe=10**6, train_size=1500)
  units = unit_rows(x)
  got, scores, counts = related_inverted.search(lists, units[:50], np.arange(50), 12)
  assert (counts == 12).all()
  exact = units[:50].astype(np.float64) @ units.T.astype(np.float64)
  exact[np.arange(50), np.arange(50)] = -np.inf
  for q in range(50):
    order = np.lexsort((np.arange(1500), -exact[q]))[:12]
    assert got[q].tolist() == order.tolist()
    np.testing.assert_allclose(scores[q], exact[q, order], atol=1e-6)


@pytest.mark.parametrize("block", [1, 5, 400])
def test_ties_by_row_never_itself_and_wide_ties(block):
  # 300 identical vectors (more than a buffer of 2K holds at K = 4), a few others
  rng = np.random.default_rng(3)
  x = np.concatenate([np.tile([[1.0, 2.0, 0.5, 0.0]], (300, 1)),
                      rng.normal(size=(100, 4))]).astype(np.float32)
  ids = [f"i{j:04d}" for j in range(len(x))]
  lists = _lists(ids, x, nprobe=2, nlist=4, train_size=400)
  units = unit_rows(x)
  rows = np.arange(len(x))
  got = _rows(lists, units, rows, 4, block)
  assert got[0][0] == [1, 2, 3, 4]  # equal scores: rows ascending, never itself
  assert got[2][0] == [0, 1, 3, 4]
  for q in rows[::9]:
    assert got[q] == _brute_force(lists, units[q], q, 4)


def test_fewer_candidates_than_k_and_queries_outside_the_index():
  x = np.eye(3, dtype=np.float32)
  lists = _lists(["a", "b", "c"], x, nprobe=1, nlist=3, train_size=3)
  got, scores, counts = related_inverted.search(lists, x, np.arange(3), 5)
  assert counts.tolist() == [0, 0, 0]  # one list per query: only itself
  lists = lists._replace(nprobe=3)
  got, scores, counts = related_inverted.search(lists, x, np.array([0, -1, 2]), 5)
  assert counts.tolist() == [2, 3, 2]
  assert got[1, :3].tolist() == [1, 0, 2] and scores[1, 0] == 1.0


def test_exact_scores_do_not_depend_on_the_pairs_scored_with_them():
  rng = np.random.default_rng(1)
  q, c = (rng.normal(size=(1000, 64)).astype(np.float32) for _ in range(2))
  whole = related_inverted.exact_scores(q, c)
  parts = np.concatenate([related_inverted.exact_scores(q[s:s + 7], c[s:s + 7])
                          for s in range(0, 1000, 7)])
  assert whole.tobytes() == parts.tobytes()
  assert np.abs(whole - np.einsum("pd,pd->p", q.astype(np.float64), c)).max() < 1e-12


def test_beam_bundles_write_the_local_rows(tmp_path):
  ids, x = clustered(700, 8, 10, seed=8)
  params = related_ann.AnnParams(nprobe=3, nlist=12, train_size=500, kind="ivfflat")
  config = ExportConfig("m", "f", "o", top_k=5, search="ivfflat", ann_nprobe=3, ann_nlist=12,
                        ann_train_size=500)
  table = local_related.related_table(config, ids, x, threads=2)
  local, _ = related_rows.table_lines(table, 0, len(ids))
  for workers in (1, 2):
    prefix = str(tmp_path / f"w{workers}" / "related")
    write_related(prefix, list(zip(ids, x)), BEAM[workers], ann=params, search="ivfflat")
    lines = [l for l in files.read_shards(prefix, ".tsv") if l != related_rows.HEADER]
    key = lambda line: (line.split("\t")[0], int(line.split("\t")[1]))
    assert sorted(lines, key=key) == [l.rstrip("\n") for l in local]
