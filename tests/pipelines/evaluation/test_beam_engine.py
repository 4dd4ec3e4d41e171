"""gcml evaluate --engine=beam: the in-memory engine's numbers and files, 1 and 2 workers.

Exact and IVF searches (`--search`); the small IVF indexes (a few lists, not all probed)
make the candidate lists differ from the exact ones, and both engines must still agree.
"""

import glob
import os

import apache_beam as beam
import numpy as np
import pytest

from launch import main as gcml
from pipelines.evaluation import beam_engine, stage as evaluate
from pipelines import split
from tests.pipelines.evaluation.evaluate_inputs import evaluate_args, write_embeddings

WORKERS = {1: ["--runner=FnApiRunner"],
           2: ["--runner=FnApiRunner", "--direct_num_workers=2",
               "--direct_running_mode=multi_processing"]}


def _read(path):
  with open(path, "rb") as f:
    return f.read()


@pytest.fixture(scope="module")
def embeddings(world):
  root, feats, _ = world
  rng = np.random.default_rng(4)
  vectors = {i: rng.normal(size=6) for i in sorted(feats)}
  test_ids = sorted(i for i in vectors if split.is_test(i))
  vectors[test_ids[0]] = np.full(6, np.nan)  # left out and counted by both engines
  return write_embeddings(root, "beam_engine", vectors)


SEARCHES = {"exact": [], "ivfflat": ["--search=ivfflat", "--ann_nlist=4", "--ann_nprobe=2"],
            "ivfpq": ["--search=ivfpq", "--ann_nlist=3", "--ann_nprobe=1"]}


@pytest.mark.parametrize("search,workers", [("exact", 1), ("exact", 2), ("ivfflat", 1),
                                            ("ivfflat", 2), ("ivfpq", 1), ("ivfpq", 2)])
def test_beam_engine_equals_memory(world, embeddings, tmp_path, search, workers):  # pylint: disable=redefined-outer-name
  root, _, _ = world
  flags = SEARCHES[search]
  memory = evaluate.run(evaluate_args(root, embeddings, str(tmp_path / "memory")) + flags)
  beam = evaluate.run(evaluate_args(root, embeddings, str(tmp_path / "beam")) + flags +
                      ["--engine=beam"] + WORKERS[workers])
  assert beam == memory  # every float bit for bit: exact sums, the same blocks
  assert memory["rejected"] == {"embeddings/embedding_not_finite": 1}
  assert memory["retrieval"]["embeddings"]["num_queries"] > 20
  for name in ("metrics.json", "metrics.md", "map_at_60.png", "ndcg_at_60.png"):
    assert _read(tmp_path / "beam" / name) == _read(tmp_path / "memory" / name), name
  assert sorted(os.listdir(tmp_path / "beam")) == sorted(os.listdir(tmp_path / "memory"))


def test_beam_engine_problems_are_one_line(world, tmp_path, capsys):
  root, feats, _ = world
  rng = np.random.default_rng(3)
  vectors = {i: rng.normal(size=6) for i in sorted(feats) if split.is_test(i)}
  a = write_embeddings(str(tmp_path), "a", vectors)
  b = write_embeddings(str(tmp_path), "b", {k: -v for k, v in vectors.items()})
  code = gcml.main(["evaluate", *evaluate_args(root, f"{a},{b}", f"{tmp_path}/o"),
                    "--engine=beam", "--runner=FnApiRunner"])
  line = capsys.readouterr().err.strip().splitlines()[-1]
  assert code == 2
  assert line.startswith("gcml evaluate: error: --embeddings: id ") and "appears in" in line
  code = gcml.main(["evaluate", *evaluate_args(root, a, f"{tmp_path}/o"), "--engine=beam",
                    "--labels_from=x"])
  assert code == 2
  with pytest.raises(SystemExit):  # a Beam option without --engine=beam: unknown, as before
    evaluate.parse_args(evaluate_args(root, a, f"{tmp_path}/o") + ["--runner=FnApiRunner"])


def test_dataflow_job_graph_builds_offline(world, embeddings, tmp_path):  # pylint: disable=redefined-outer-name
  root, _, _ = world
  code = gcml.main(["evaluate", *evaluate_args(root, embeddings, f"{tmp_path}/dry"),
                    "--engine=beam", "--runner=DataflowRunner", "--dry_run=True",
                    "--project=gcml-test", "--region=us-central1",
                    "--temp_location=gs://gcml-test/tmp", "--sdk_location=container"])
  assert code == 0
  assert not os.path.exists(tmp_path / "dry" / "metrics.json")


@pytest.mark.parametrize("search", ["exact", "ivfflat", "ivfpq"])
def test_only_the_exact_search_gathers_the_database(world, embeddings, tmp_path, search):  # pylint: disable=redefined-outer-name
  root, _, _ = world
  config, _ = evaluate.parse_args(evaluate_args(root, embeddings, str(tmp_path)) +
                                  SEARCHES[search] + ["--engine=beam"])
  pipeline = beam.Pipeline()
  beam_engine.build(pipeline, config, sorted(glob.glob(embeddings)),
                    sorted(glob.glob(f"{root}/w/edges-*.csv")), "csv",
                    sorted(glob.glob(f"{root}/w/features-*.tfrecord")), str(tmp_path / "r.json"))
  names = [t.unique_name for t in pipeline.to_runner_api().components.transforms.values()]
  # The IVF searches broadcast only their indexes: no step collects the database's vectors.
  assert any(n.endswith("CollectDatabase") for n in names) == (search == "exact")
  assert any(n.startswith("AnnRetrieval/JoinCandidateVectors") for n in names) == (
      search != "exact")
