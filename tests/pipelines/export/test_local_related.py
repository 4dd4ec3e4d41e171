"""pipelines.export.local_related: the rows do not depend on the thread count; hand-checked top-K."""

import numpy as np

from pipelines.export import local_related
from pipelines.export.stage import ExportConfig
from pipelines.io import related_rows


def _config(**kw):
  return ExportConfig("model", "features", "out", **kw)


def _lines(config, embeddings, threads):
  """(sort key, tsv line) of every row of the table, as `related_rows.format_rows` keys them."""
  ids = sorted(embeddings)
  table = local_related.related_table(config, ids, np.stack([embeddings[i] for i in ids]),
                                      threads=threads)
  lines, _ = related_rows.table_lines(table, 0, len(ids))
  return [(f"{line.split(chr(9))[0]}\t{int(line.split(chr(9))[1]):06d}", line) for line in lines]


def test_exact_rows_hand_computed():
  embeddings = {"a": np.array([1, 0], np.float32), "b": np.array([2, 0], np.float32),
                "c": np.array([1, 1], np.float32), "d": np.array([-1, 0], np.float32)}
  rows = dict(_lines(_config(top_k=2), embeddings, threads=2))
  # cos(a, b) = 1, cos(a, c) = 0.707107, cos(c, d) = -0.707107, cos(a, d) = -1.
  assert rows["a\t000001"] == "a\t1\tb\t1.000000"
  assert rows["a\t000002"] == "a\t2\tc\t0.707107"
  assert rows["d\t000001"] == "d\t1\tc\t-0.707107"
  assert rows["d\t000002"] == "d\t2\ta\t-1.000000"  # a and b tie at -1: the smaller id first
  assert len(rows) == 8


def test_rows_do_not_depend_on_threads():
  rng = np.random.default_rng(2)
  centers = rng.normal(size=(20, 16)).astype(np.float32)
  x = centers[rng.integers(0, 20, 3000)] + 0.5 * rng.normal(size=(3000, 16)).astype(np.float32)
  embeddings = {f"i{j:05d}": v for j, v in enumerate(x)}
  for config in (_config(top_k=10, query_batch=100),
                 _config(top_k=10, query_batch=100, search="ivfpq", ann_train_size=2000),
                 _config(top_k=10, query_batch=100, search="ivfpq", ann_train_size=2000,
                         ann_rerank=0),
                 _config(top_k=10, query_batch=100, search="ivfflat", ann_train_size=2000,
                         ann_nprobe=4)):
    one = _lines(config, embeddings, threads=1)
    assert len(one) == 30000
    assert _lines(config, embeddings, threads=3) == one
