"""`gcml bench compare`'s bookkeeping: method names, paired verdicts, the table (no training)."""

import argparse

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
