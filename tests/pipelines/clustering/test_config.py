"""`pipelines/clustering/config.py`: ClusterConfig's checks, rounds and recorded settings."""

import dataclasses

import pytest

from pipelines.clustering.config import ClusterConfig
from pipelines.errors import InputError

BASE = ClusterConfig(edges="e-*.csv", output_dir="out")


def test_rounds_reach_the_last_level():
  assert BASE.rounds() == 3  # L0 is round 1, three levels
  assert dataclasses.replace(BASE, first_round=2, levels=4).rounds() == 5
  # With a target L0 size, L0 may be as late as --max_first_round.
  assert dataclasses.replace(BASE, target_l0_size=10, max_first_round=6).rounds() == 8


def test_the_defaults_pass_the_check():
  BASE.check()


@pytest.mark.parametrize("changes, message", [
    ({"levels": 0}, r"^--levels must be between 1 and 16, got 0$"),
    ({"levels": 17}, r"^--levels must be between 1 and 16, got 17$"),
    ({"similarity": "cosine"}, r"^--similarity must be one of weight\|jaccard\|adamic_adar, "
                               r"got 'cosine'$"),
    ({"first_round": 0}, r"^--first_round must be >= 1 and --target_l0_size >= 0, got 0 and 0$"),
    ({"target_l0_size": 5, "first_round": 4, "max_first_round": 3},
     r"^--max_first_round \(3\) must be >= --first_round \(4\)$"),
    ({"first_round": 31, "levels": 3}, r"^33 rounds asked .*; at most 32$"),
    ({"min_weight": float("nan")}, r"^--min_weight must be a finite number >= 0, got nan$"),
    ({"min_weight": -1.0}, r"^--min_weight must be a finite number >= 0, got -1.0$"),
    ({"partitions": -2}, r"^--partitions must be >= 0, got -2$"),
    ({"test_fraction": 1.5}, r"^--test_fraction must be in \[0, 1\], got 1.5$"),
])
def test_a_bad_value_is_one_line_naming_its_flag(changes, message):
  with pytest.raises(InputError, match=message):
    dataclasses.replace(BASE, **changes).check()


def test_settings_record_what_both_engines_share():
  settings = dataclasses.replace(BASE, seed=4, linkage="average").settings(edge_files=2)
  assert {k: settings[k] for k in ("edges_glob", "edge_files", "levels", "linkage", "seed",
                                   "rounds", "similarity")} == {
      "edges_glob": "e-*.csv", "edge_files": 2, "levels": 3, "linkage": "average", "seed": 4,
      "rounds": 3, "similarity": "weight"}
  assert "engine" not in settings  # the same summary whichever engine ran
