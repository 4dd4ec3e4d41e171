"""`pipelines/examples/config.py`: ExamplesConfig's one-line checks and its output prefix."""

import dataclasses
import os

import pytest

from pipelines.errors import InputError
from pipelines.examples.config import KINDS, ExamplesConfig

SMART = ExamplesConfig(kind="smart", features="f-*", output_dir="out", edges="e-*",
                       clusters="c")


def test_every_kind_with_what_it_needs_is_valid():
  SMART.validate()
  ExamplesConfig(kind="random", features="f", output_dir="o", edges="e").validate()
  ExamplesConfig(kind="labels", features="f", output_dir="o", clusters="c").validate()
  ExamplesConfig(kind="validation", features="f", output_dir="o", edges="e").validate()
  assert KINDS == ("smart", "random", "labels", "validation")


def test_output_prefix_names_examples_for_labels_else_triplets():
  assert SMART.output_prefix == os.path.join("out", "triplets")
  assert dataclasses.replace(SMART, kind="labels").output_prefix == os.path.join("out",
                                                                                 "examples")


@pytest.mark.parametrize("changes, message", [
    ({"kind": "hard"}, r"^--kind must be one of smart, random, labels, validation, got 'hard'$"),
    ({"edges": ""}, r"^--kind=smart needs --edges$"),
    ({"clusters": ""}, r"^--kind=smart needs --clusters$"),
    ({"level": -1}, r"^--level must be 0, 1 or 2, got -1$"),
    ({"positives_per_anchor": 0}, r"^--positives_per_anchor must be at least 1$"),
    ({"num_triplets": -1}, r"^--num_triplets must be >= 0 \(0: no cap\)$"),
    ({"positive_sampling": "greedy"}, r"^--positive_sampling must be weighted or uniform$"),
    ({"max_children": 1}, r"^--max_children must be at least 2$"),
    ({"random_fraction": 1.5}, r"^--random_fraction must be in \[0, 1\]$"),
    ({"kind": "random", "all_levels": True}, r"^--all_levels is for --kind=smart$"),
    ({"kind": "random", "random_fraction": 0.5},
     r"^--random_fraction mixes random negatives into --kind=smart only$"),
    ({"kind": "random", "cluster_positives": 2},
     r"^--cluster_id_level and --cluster_positives are for --kind=smart$"),
    ({"cluster_id_level": -2}, r"^--cluster_id_level must be a level or -1 \(none\)$"),
    ({"engine": "local", "cluster_id_level": 0},
     r"^--cluster_id_level and --cluster_positives run on --engine=beam only"),
    ({"num_shards": 0}, r"^--num_shards must be at least 1$"),
    ({"hot_threshold": 0}, r"^--hot_threshold must be at least 1$"),
    ({"test_fraction": -0.1}, r"^--test_fraction must be in \[0, 1\], got -0.1$"),
])
def test_a_bad_value_is_one_line_naming_its_flag(changes, message):
  with pytest.raises(InputError, match=message):
    dataclasses.replace(SMART, **changes).validate()
