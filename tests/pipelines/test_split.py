"""The cold-start split: one definition, recorded by every stage, checked by its readers."""

import os
import shutil

import pytest

from launch import main as gcml
from pipelines import split
from pipelines.errors import InputError
from tests.pipelines.examples import worlds
from tests.pipelines.split_summaries import write_split_summary


def test_split_is_a_stable_hash_of_the_id():
  ids = [f"v{i}" for i in range(4000)]
  share = sum(split.is_test(i) for i in ids) / len(ids)
  assert 0.27 < share < 0.33
  # A larger fraction only adds test items.
  assert all(split.is_test(i, 0.5) for i in ids if split.is_test(i, 0.3))


def test_split_is_stable_and_about_thirty_percent():
  # Fixed values: the split must never change (evaluation depends on it).
  assert [split.is_test(f"v{i}") for i in range(8)] == [
      split.split_hash(f"v{i}") < 0.3 * 2**64 for i in range(8)]
  assert split.split_hash("v0") == int.from_bytes(
      __import__("hashlib").blake2b(b"v0", digest_size=8).digest(), "big")
  share = sum(split.is_test(f"item{i}") for i in range(20000)) / 20000
  assert 0.29 < share < 0.31
  assert all(split.is_test(f"x{i}", 0.5) for i in range(2000) if split.is_test(f"x{i}", 0.3))
  assert split.split_of("v0") in ("train", "validation", "test")
  assert not split.is_test("v0", 0.0)


def test_check_same_refuses_another_fraction_in_one_line():
  split.check_same(split.describe(0.3), 0.3, "x")
  split.check_same(None, 0.3, "x")  # hand-made inputs carry no record
  with pytest.raises(InputError, match=r"x was made with split test_fraction=0.2") as e:
    split.check_same(split.describe(0.2), 0.3, "x")
  assert "\n" not in str(e.value)


def test_examples_refuse_cluster_tables_of_another_split(tmp_path, capsys):
  world = worlds.hand_world(str(tmp_path / "w"))
  clusters = str(tmp_path / "clusters")
  shutil.copytree(world.clusters_dir, clusters)
  write_split_summary(clusters, "cluster", split.describe(0.2, clustered="train_train"))
  code = gcml.main(["examples", "--kind=smart", f"--edges={world.edges_glob}",
                    f"--features={world.features_glob}", f"--clusters={clusters}",
                    f"--output_dir={tmp_path / 'out'}", f"--modalities={worlds.MODALITIES}",
                    "--runner=FnApiRunner"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and "\n" not in err
  assert f"--clusters={clusters} was made with split test_fraction=0.2" in err


def test_evaluate_refuses_embeddings_of_a_model_trained_under_another_split(tmp_path, capsys):
  embeddings = write_split_summary(tmp_path / "export", "export", split.describe(0.2))
  with open(os.path.join(tmp_path / "export", "embeddings-00000-of-00001.tfrecord"), "wb"):
    pass
  code = gcml.main(["evaluate", f"--embeddings={tmp_path}/export/embeddings-*",
                    f"--edges={tmp_path}/export/summary.json",
                    f"--features={embeddings}", f"--output_dir={tmp_path / 'out'}"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and "\n" not in err
  assert "was made with split test_fraction=0.2" in err


def test_validation_items_sit_apart_from_test_and_train():
  ids = [f"v{i}" for i in range(5000)]
  parts = [split.split_of(i) for i in ids]
  assert 0.08 < parts.count("validation") / len(ids) < 0.12
  for i in ids:
    assert split.is_train(i) == (split.split_of(i) == "train")
    # The test part does not depend on the validation fraction.
    assert split.is_test(i) == (split.split_of(i, 0.3, 0.0) == "test")
  with pytest.raises(InputError, match="--validation_fraction"):
    split.check_fractions(0.3, 0.8)
