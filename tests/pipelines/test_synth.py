"""The synthetic world: determinism and the statistics it promises."""

import filecmp
import glob
import json
import os

import numpy as np
import pytest

from pipelines import features, synth, tf_example

SMALL = dict(num_items=3000, branching=(3, 3, 4), mean_degree=16.0, items_per_shard=1000,
             modalities=(features.Modality("mean_rgb", 64), features.Modality("mean_audio", 16)))


@pytest.fixture(scope="module", name="world_dir")
def _world_dir(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("synth"))
  synth.generate(synth.SynthConfig(seed=7, processes=2, **SMALL), out, progress=lambda _: None)
  return out


def _load(out):
  hier = {}
  for path in sorted(glob.glob(f"{out}/hierarchy-*.tsv")):
    with open(path, encoding="utf-8") as f:
      for line in f.read().splitlines()[1:]:
        item, topic, sub, micro = line.split("\t")
        hier[item] = (topic, sub, micro)
  edges = []
  for path in sorted(glob.glob(f"{out}/edges-*.csv")):
    with open(path, encoding="utf-8") as f:
      for line in f.read().splitlines()[1:]:
        a, b, w = line.split(",")
        edges.append((a, b, float(w)))
  return hier, edges


def test_same_seed_same_bytes_whatever_the_processes(world_dir, tmp_path):
  again = str(tmp_path / "again")
  synth.generate(synth.SynthConfig(seed=7, processes=1, **SMALL), again, progress=lambda _: None)
  names = sorted(os.listdir(world_dir))
  assert names == sorted(os.listdir(again))
  assert len([n for n in names if n.startswith("edges-")]) == 3
  match, mismatch, errors = filecmp.cmpfiles(world_dir, again, names, shallow=False)
  assert not mismatch and not errors, mismatch
  other = str(tmp_path / "other")
  synth.generate(synth.SynthConfig(seed=8, processes=1, **SMALL), other, progress=lambda _: None)
  assert not filecmp.cmp(f"{world_dir}/edges-00000-of-00003.csv",
                         f"{other}/edges-00000-of-00003.csv", shallow=False)


def test_counts_and_contracts(world_dir):
  hier, edges = _load(world_dir)
  assert len(hier) == 3000 and len(edges) == 24000
  assert all(a != b for a, b, _ in edges)
  assert all(w > 0 for _, _, w in edges)
  with open(f"{world_dir}/synth.json", encoding="utf-8") as f:
    stats = json.load(f)
  assert stats["micro_clusters"] == 36 and stats["edge_lines"] == 24000


def test_degrees_are_heavy_tailed(world_dir):
  _, edges = _load(world_dir)
  ids, counts = np.unique([e[0] for e in edges] + [e[1] for e in edges], return_counts=True)
  mean = counts.mean()
  # A Poisson graph of this mean degree has max/mean below ~2.5; a heavy tail goes far past it.
  assert counts.max() > 8 * mean
  assert np.percentile(counts, 99) > 4 * np.median(counts)


def test_closer_items_have_heavier_and_denser_edges(world_dir):
  hier, edges = _load(world_dir)
  by_level = {0: [], 1: [], 2: [], 3: []}
  for a, b, w in edges:
    ha, hb = hier[a], hier[b]
    level = 0 if ha[2] == hb[2] else 1 if ha[1] == hb[1] else 2 if ha[0] == hb[0] else 3
    by_level[level].append(w)
  means = [np.mean(by_level[k]) for k in range(4)]
  assert means[0] > means[1] > means[2] > means[3]
  # Density: edges per possible pair within micro-clusters vs across topics.
  micro_sizes = np.unique([h[2] for h in hier.values()], return_counts=True)[1]
  topic_sizes = np.unique([h[0] for h in hier.values()], return_counts=True)[1]
  within_pairs = (micro_sizes * (micro_sizes - 1) / 2).sum()
  n = len(hier)
  cross_pairs = (n * n - (topic_sizes ** 2).sum()) / 2
  assert len(by_level[0]) / within_pairs > 50 * len(by_level[3]) / cross_pairs


def _features(out):
  vectors = {}
  from tests.pipelines.files import read_tfrecords
  for data in read_tfrecords(sorted(glob.glob(f"{out}/features-*.tfrecord"))):
    rec = tf_example.parse(data)
    vectors[rec["id"][0].decode()] = (rec["mean_rgb"], rec["mean_audio"], rec["labels"])
  return vectors


def _cos(x, y):
  return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))


def test_related_items_have_closer_features_and_shared_labels(world_dir):
  hier, edges = _load(world_dir)
  vectors = _features(world_dir)
  assert len(vectors) == 3000
  rng = np.random.default_rng(0)
  ids = sorted(vectors)
  for modality in (0, 1):
    related = np.mean([_cos(vectors[a][modality], vectors[b][modality]) for a, b, _ in edges[:2000]])
    pairs = rng.choice(len(ids), (2000, 2))
    unrelated = np.mean([_cos(vectors[ids[i]][modality], vectors[ids[j]][modality])
                         for i, j in pairs if i != j])
    assert related > unrelated + 0.1, (modality, related, unrelated)
  # Content is informative but not sufficient: same-micro pairs are not near duplicates.
  same_micro = [_cos(vectors[a][0], vectors[b][0]) for a, b, _ in edges[:2000]
                if hier[a][2] == hier[b][2]]
  assert np.mean(same_micro) < 0.9
  topic_label = {int(h[0][1:]) for h in hier.values()}
  assert all(set(v[2]) & topic_label for v in vectors.values())
