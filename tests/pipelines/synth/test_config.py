"""`pipelines/synth/config.py`: SynthConfig's derived sizes and its one-line validation errors."""

import dataclasses

import pytest

from pipelines.errors import InputError
from pipelines.synth.config import SynthConfig


def test_num_edges_is_items_times_degree_over_two():
  assert SynthConfig(num_items=1000, mean_degree=3.0).num_edges == 1500
  assert SynthConfig(num_items=30, mean_degree=2.2).num_edges == 33
  assert SynthConfig(num_items=1001, mean_degree=3.0).num_edges == 1502  # 1501.5, to even


def test_num_shards_rounds_up():
  assert SynthConfig(num_items=50001, items_per_shard=25000).num_shards == 3
  assert SynthConfig(num_items=50000, items_per_shard=25000).num_shards == 2
  assert SynthConfig(num_items=20, items_per_shard=25000).num_shards == 1


def test_topics_given_or_from_the_micro_cluster_size():
  assert SynthConfig(branching=(5, 4, 5)).topics() == 5
  # 20000 items / (50 per micro-cluster * 4 subtopics * 5 micro-clusters) = 20 topics.
  assert SynthConfig(num_items=20000, branching=(0, 4, 5), mean_micro_size=50).topics() == 20
  assert SynthConfig(num_items=100, branching=(0, 4, 5)).topics() == 2  # never under 2


def test_the_default_config_is_valid():
  SynthConfig().validate()
  SynthConfig(frames=True, min_frames=1, max_frames=1).validate()


@pytest.mark.parametrize("changes, message", [
    ({"num_items": 19}, r"^--num_items must be at least 20, got 19$"),
    ({"branching": (0, 1, 5)}, r"^--branching needs topics >= 0 and at least 2 subtopics"),
    ({"level_mix": (0.5, 0.5, 0.1, 0.0)}, r"^--level_mix needs 4 non-negative shares summing"),
    ({"word_mix": (1.0, 0.0, 0.0)}, r"^--word_mix needs 4 non-negative shares"),
    ({"mean_degree": 0.0}, r"^--mean_degree and --items_per_shard must be positive$"),
    ({"relatedness": "close"}, r"^--relatedness must be one of uniform, graded, got 'close'$"),
    ({"content": "sparse"}, r"^--content must be one of dense, words, got 'sparse'$"),
    ({"graded_width": 0.0}, r"^--graded_width must be positive"),
    ({"frames": True, "min_frames": 5, "max_frames": 4},
     r"^--min_frames and --max_frames need 1 <= min <= max, got 5 and 4$"),
    ({"words_per_item": 0.5}, r"^--words_per_item must be at least 1, got 0.5$"),
])
def test_a_bad_value_names_its_flag(changes, message):
  with pytest.raises(InputError, match=message):
    dataclasses.replace(SynthConfig(), **changes).validate()


def test_frame_counts_are_only_checked_with_frames():
  SynthConfig(frames=False, min_frames=5, max_frames=4).validate()
