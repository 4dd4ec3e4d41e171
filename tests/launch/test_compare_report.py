"""`gcml bench compare`'s bookkeeping: method names, paired verdicts, the table (no training)."""

import argparse
import os

import numpy as np

import pytest

from tests.benchmarks import bench_compare, compare_methods, compare_report


def _world(raw, **scores):
  return {"raw": {"map@60": raw, "ndcg@60": raw},
          "methods": {n: {"map@60": v, "ndcg@60": v, "best_step": 50} for n, v in scores.items()}}


def test_nomine_suffix_trains_without_mining():
  assert compare_methods.split_name("cdml:nomine") == ("cdml", "none")
  assert compare_methods.split_name("gcml_l0") == ("gcml_l0", "semihard")
  with pytest.raises(ValueError, match="unknown method"):
    compare_methods.check_methods(["gcml_l9"])


def test_mining_list_adds_a_nomine_variant_of_each_triplet_method_only():
  args = argparse.Namespace(methods="raw,cdml,clc", mining="semihard,none")
  assert bench_compare._method_list(args) == ["raw", "cdml", "clc", "cdml:nomine"]
  args = argparse.Namespace(methods="raw,cdml,clc", mining="none")
  assert bench_compare._method_list(args) == ["raw", "clc", "cdml:nomine"]


def test_methods_sharing_examples_share_one_examples_folder():
  keys = {compare_methods._examples_key(compare_methods.METHODS[m]["examples"])
          for m in ("gcml_l1", "gcml_l2", "curriculum")}
  assert len(keys) == 1
  assert (compare_methods._examples_key(compare_methods.METHODS["mixed"]["examples"]) !=
          compare_methods._examples_key(compare_methods.METHODS["gcml_l0"]["examples"]))


def test_a_method_beats_raw_only_when_the_paired_gap_exceeds_its_spread():
  worlds = [_world(0.10, a=0.12, b=0.11), _world(0.20, a=0.21, b=0.19),
            _world(0.15, a=0.17, b=0.16)]
  s = compare_report.summarize(worlds)
  assert s["methods"]["a"]["verdict_vs_raw"] == "above"  # +0.02, +0.01, +0.02
  assert s["methods"]["b"]["verdict_vs_raw"] == "within spread"  # +0.01, -0.01, +0.01
  assert s["raw"][0] == pytest.approx(0.15)
  assert "a - b" not in compare_report.preset_table("p", worlds)
  assert compare_report.paired(worlds, "a", "b").endswith("(above)")
  assert compare_report.paired(worlds, "a", "missing") is None


def _annotated(raw_gap, **gaps):
  world = _world(0.1, **{n: 0.1 for n in gaps})
  world["raw"]["annotation"] = {"gap@20": raw_gap, "hit@1": raw_gap}
  for name, gap in gaps.items():
    world["methods"][name]["annotation"] = {"gap@20": gap, "hit@1": gap}
  return world


def test_the_annotation_table_pairs_each_method_with_raw_features():
  worlds = [_annotated(0.5, a=0.55), _annotated(0.6, a=0.66), _annotated(0.4, a=0.43)]
  table = compare_report.annotation_table(worlds)
  # a: 0.55, 0.66, 0.43 -> 0.5467 ± 0.1150; paired +0.05, +0.06, +0.03 -> +0.0467 ± 0.0153
  assert "| a | 0.5467 ± 0.1150 | +0.0467 ± 0.0153 | above | 0.5467 |" in table
  assert "| raw features | 0.5000 ± 0.1000 |" in table
  assert compare_report.annotation_table([_world(0.1, a=0.2)]) == ""


def test_annotation_scores_train_on_train_items_and_score_test_items():
  from pipelines import split  # pylint: disable=import-outside-toplevel
  from tests.benchmarks import compare_annotation  # pylint: disable=import-outside-toplevel
  ids = [f"v{i}" for i in range(80)]
  labels = {i: (n % 2,) for n, i in enumerate(ids)}
  separable = {i: np.eye(2, dtype=np.float32)[labels[i][0]] for i in ids}
  assert any(split.is_test(i) for i in ids) and not all(split.is_test(i) for i in ids)
  scores = compare_annotation.annotation_scores(separable, labels, steps=60, seed=0)
  assert scores["hit@1"] == 1.0 and scores["gap@20"] > 0.9
  noise = {i: np.random.default_rng(int(i[1:])).normal(size=2).astype(np.float32) for i in ids}
  assert compare_annotation.annotation_scores(noise, labels, steps=60, seed=0)["hit@1"] < 0.9


def test_named_methods_keep_their_tower_whatever_the_demo_preset_trains():
  # The `demo` preset's contrastive mode trains the identity tower; the bench's methods
  # keep the papers' towers unless they name one, and --tower overrides every method.
  assert compare_methods.train_flags("cdml", {})["tower"] == "mlp"
  assert compare_methods.train_flags("contrastive", {}) == {"tower": "mlp",
                                                            "mode": "contrastive"}
  assert compare_methods.train_flags("contrastive_identity", {})["tower"] == "identity_linear"
  assert compare_methods.train_flags("contrastive_identity_t0.05", {}) == {
      "tower": "identity_linear", "mode": "contrastive", "temperature": 0.05}
  assert compare_methods.train_flags("cdml", {"tower": "identity_linear"})["tower"] == \
      "identity_linear"


def test_the_run_tag_names_every_flag_that_changes_the_scores():
  flags = dict(validate_every=100, batch_size=128, tower="", input_norm="", clusters="affinity",
               annotation_steps=0)
  tag = bench_compare.run_tag(argparse.Namespace(**flags), 800, 128)
  assert tag == "s800-b128-v100-default-default"
  assert bench_compare.run_tag(argparse.Namespace(**{**flags, "validate_every": 0}), 800,
                               128) == "s800-b128-v0-default-default"
  # The sweep (batch 256, half the steps) validates after the same examples seen: 50 steps.
  sweep = argparse.Namespace(**{**flags, "clusters": "truth", "annotation_steps": 30,
                                "tower": "residual"})
  assert bench_compare.run_tag(sweep, 400, 256) == "s400-b256-v50-residual-default-truth-ann30"


def test_the_world_folder_names_every_flag_that_changes_the_world():
  def folder(num_items=0, num_triplets=bench_compare.DEFAULT_NUM_TRIPLETS, preset="planted"):
    a = argparse.Namespace(num_items=num_items, num_triplets=num_triplets)
    return bench_compare.world_folder(a, preset, 1)
  assert folder() == os.path.join("planted", "seed1")
  assert folder(4000) == os.path.join("planted", "seed1-items4000")
  assert folder(4000, 5000) == os.path.join("planted", "seed1-items4000-triplets5000")
  assert folder(4000, preset="small") == os.path.join("small", "seed1")  # small fixes its size
