"""`pipelines/synth/content.py`: the features and labels of a shard's items."""

import dataclasses

import numpy as np

from pipelines.io.modality_spec import Modality
from pipelines.synth.config import SynthConfig
from pipelines.synth.content import features_chunk
from pipelines.synth.world import make_world

# 2 topics x 2 subtopics x 3 micro-clusters; shards of 40 items: 40, 40 and 20.
CONFIG = SynthConfig(num_items=100, seed=4, branching=(2, 2, 3), items_per_shard=40,
                     latent_dim=4, modalities=(Modality("rgb", 6), Modality("audio", 3)))


def test_a_shard_holds_its_range_of_items_with_every_modality():
  world = make_world(CONFIG)
  index, vectors, labels = features_chunk(world, 2)
  assert index.tolist() == list(range(80, 100))
  assert {name: (v.shape, v.dtype) for name, v in vectors.items()} == {
      "rgb": ((20, 6), np.float32), "audio": ((20, 3), np.float32)}
  assert len(labels) == 20


def test_labels_hold_the_topic_and_stay_in_the_vocabulary():
  world = make_world(CONFIG)
  index, _, labels = features_chunk(world, 0)
  topic = world.group_of(index, 2)
  # The vocabulary: 2 topic labels, then 2 * 2 subtopic labels (2 * (1 + 2) = 6 in all).
  for item_topic, row in zip(topic, labels):
    assert int(item_topic) in row and row == sorted(set(row))
    assert all(0 <= label < 6 for label in row)


def test_same_seed_same_features():
  a, b = features_chunk(make_world(CONFIG), 1), features_chunk(make_world(CONFIG), 1)
  assert np.array_equal(a[1]["rgb"], b[1]["rgb"]) and a[2] == b[2]


def test_words_content_is_counts():
  config = dataclasses.replace(CONFIG, content="words", modalities=(Modality("words", 50),),
                               words_per_item=8.0)
  _, vectors, _ = features_chunk(make_world(config), 0)
  words = vectors["words"]
  assert words.shape == (40, 50)
  assert np.all(words >= 0) and np.array_equal(words, np.round(words))
  assert words.sum(1).min() >= 1
