"""`pipelines/synth/world.py`: the planted hierarchy, public ids, and edges drawn level by level."""

import dataclasses

import numpy as np
import pytest

from pipelines.errors import InputError
from pipelines.synth.config import SynthConfig
from pipelines.synth.world import LEVELS, edge_chunk, id_strings, make_world

# 2 topics x 2 subtopics x 3 micro-clusters = 12 micro-clusters of 100 items.
CONFIG = SynthConfig(num_items=100, seed=4, branching=(2, 2, 3), mean_degree=10.0,
                     items_per_shard=40, latent_dim=4)


def _edges(config):
  world = make_world(config)
  chunks = [edge_chunk(world, shard) for shard in range(config.num_shards)]
  return world, *(np.concatenate(part) for part in zip(*chunks))


def test_the_hierarchy_covers_every_item_in_micro_clusters_of_two_or_more():
  world = make_world(CONFIG)
  assert world.branching == (2, 2, 3)
  assert len(world.micro_bounds) == 13 and world.micro_bounds[0] == 0
  assert world.micro_bounds[-1] == 100 and np.diff(world.micro_bounds).min() >= 2
  assert np.array_equal(world.group_bounds(1), world.micro_bounds[::3])  # 4 subtopics
  assert np.array_equal(world.group_bounds(2), world.micro_bounds[::6])  # 2 topics
  first_of_topic_1 = world.micro_bounds[6]
  assert world.group_of(np.array([0, first_of_topic_1 - 1, first_of_topic_1, 99]), 2).tolist() == [
      0, 0, 1, 1]
  assert sorted(world.public_ids.tolist()) == list(range(100))


def test_same_seed_same_world():
  a, b = make_world(CONFIG), make_world(CONFIG)
  assert np.array_equal(a.micro_bounds, b.micro_bounds)
  assert np.array_equal(a.public_ids, b.public_ids)
  assert not np.array_equal(a.public_ids,
                            make_world(dataclasses.replace(CONFIG, seed=5)).public_ids)


def test_too_few_items_for_the_micro_clusters_is_one_line():
  with pytest.raises(InputError, match=r"^23 items are too few for 12 micro-clusters "
                                       r"\(branching 2,2,3\)"):
    make_world(dataclasses.replace(CONFIG, num_items=23))


def test_id_strings_are_padded_public_ids():
  world = make_world(CONFIG)
  index = np.array([0, 5])
  assert id_strings(world, index) == [f"v{k:02d}" for k in world.public_ids[index]]


def test_edges_per_shard_add_up_to_the_edge_lines():
  world = make_world(CONFIG)
  # 100 items * degree 10 / 2 = 500 lines over 3 shards: 166, 166 and 168.
  assert [len(edge_chunk(world, shard)[0]) for shard in range(3)] == [166, 166, 168]


def test_each_level_draws_its_partner_where_the_level_says():
  world, src, dst, weight, level = _edges(CONFIG)
  assert LEVELS == ("micro", "subtopic", "topic", "noise")  # levels 0..3
  assert np.all(src != dst)
  micro, sub, topic = (world.group_of(src, k) == world.group_of(dst, k) for k in range(3))
  assert np.all(micro[level == 0])
  assert np.all(sub[level == 1] & ~micro[level == 1])
  assert np.all(topic[level == 2] & ~sub[level == 2])
  assert not np.any(topic[level == 3])
  assert np.all(weight >= 0.001) and np.array_equal(weight, np.round(weight, 3))


def test_unit_weights_are_all_one():
  _, _, _, weight, _ = _edges(dataclasses.replace(CONFIG, unit_weights=True))
  assert np.all(weight == 1.0)
