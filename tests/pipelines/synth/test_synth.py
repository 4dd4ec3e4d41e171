"""The synthetic world: determinism and the statistics it promises."""

import filecmp
import glob
import json
import os

import numpy as np
import pytest

from pipelines.io import features, tf_example
from pipelines import synth

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


# ---------------------------------------------------------------------------
# Presets: each one's defining property, measured on a world of 3,000 items.

PRESET_ITEMS = 3000


def _quiet(_):
  pass


@pytest.fixture(scope="module", name="preset_dirs")
def _preset_dirs(tmp_path_factory):
  """{preset: output dir} of small worlds, seed 3, built once per module."""
  dirs = {}
  for name in ("planted", "graded", "strong_content"):
    out = str(tmp_path_factory.mktemp(name))
    synth.generate(synth.config_for(name, num_items=PRESET_ITEMS, seed=3, processes=1), out,
                   progress=_quiet)
    dirs[name] = out
  return dirs


def _graph(out, modality):
  """(ids, features [n, dim] float64, micro-cluster per item, edges as index arrays, weights)."""
  hier, edges = _load(out)
  from tests.pipelines.files import read_tfrecords
  vectors = {}
  for data in read_tfrecords(sorted(glob.glob(f"{out}/features-*.tfrecord"))):
    rec = tf_example.parse(data)
    vectors[rec["id"][0].decode()] = rec[modality]
  ids = sorted(vectors)
  position = {item: k for k, item in enumerate(ids)}
  x = np.stack([vectors[i] for i in ids]).astype(np.float64)
  micro = np.array([hier[i][2] for i in ids])
  src = np.array([position[a] for a, _, _ in edges])
  dst = np.array([position[b] for _, b, _ in edges])
  return ids, x, micro, src, dst, np.array([w for _, _, w in edges])


def _adjacency(n, src, dst):
  a = np.zeros((n, n), bool)
  a[src, dst] = a[dst, src] = True
  np.fill_diagonal(a, False)
  return a


def _cosine_matrix(x):
  unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  return unit @ unit.T


def _neighbours_minus_others_in_micro(similarity, adjacency, micro):
  """Mean over anchors of: mean similarity to its micro-cluster neighbours minus
  mean similarity to the members of its micro-cluster that are not neighbours."""
  same = micro[:, None] == micro[None, :]
  np.fill_diagonal(same, False)
  near, far = adjacency & same, ~adjacency & same
  anchors = np.nonzero(near.any(1) & far.any(1))[0]
  return float(np.mean([similarity[i][near[i]].mean() - similarity[i][far[i]].mean()
                        for i in anchors]))


def test_planted_is_the_default_and_keeps_its_bytes(tmp_path):
  assert synth.config_for("planted") == synth.SynthConfig()
  synth.generate(synth.SynthConfig(num_items=300, seed=0, processes=1), str(tmp_path),
                 progress=_quiet)
  # sha256 of the files the generator wrote before presets existed (numpy as in constraints.txt);
  # the features' since their projection is added in one fixed order (`content.fixed_order_product`),
  # the same on AVX2 and AVX-512 machines (checked with NPY_DISABLE_CPU_FEATURES and
  # OPENBLAS_CORETYPE=Haswell: the BLAS product gave other bytes there).
  expected = {
      "edges-00000-of-00001.csv": "c28754edf933dc6dfe4ebad3b53de1dcce4ad3d80ec5a3333a248daa03afe2aa",
      "features-00000-of-00001.tfrecord":
          "fe28834d87aaffb5d99ea60f6394e769680ae671239ae5806741352932e03e51",
      "hierarchy-00000-of-00001.tsv":
          "11ccd9fbfae8c20f2fcac2a990674d4a642446822ef3410064d2bf71d86e9a70",
  }
  import hashlib
  for name, digest in expected.items():
    with open(tmp_path / name, "rb") as f:
      assert hashlib.sha256(f.read()).hexdigest() == digest, name
  with open(tmp_path / "synth.json", encoding="utf-8") as f:
    assert json.load(f)["preset"] == "planted"


def test_graded_neighbours_are_closer_than_the_rest_of_their_micro_cluster(preset_dirs):
  gaps = {}
  for name in ("planted", "graded"):
    ids, x, micro, src, dst, _ = _graph(preset_dirs[name], "mean_rgb")
    adjacency = _adjacency(len(ids), src, dst)
    gaps[name] = _neighbours_minus_others_in_micro(_cosine_matrix(x), adjacency, micro)
  # Content cosine: no difference inside a planted micro-cluster, a clear one when graded.
  assert abs(gaps["planted"]) < 0.01, gaps
  assert gaps["graded"] > 0.03, gaps
  # Latent distance (the positions inside the micro-clusters) of the graded world.
  world = synth.make_world(synth.config_for("graded", num_items=PRESET_ITEMS, seed=3))
  index = np.argsort(world.public_ids)[[int(i[1:]) for i in ids]]
  p = world.positions[index].astype(np.float64)
  distance = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
  closeness = _neighbours_minus_others_in_micro(-distance, adjacency, micro)
  assert closeness > 0.5, closeness  # neighbours are closer by half a position unit or more


def _precision_at_10(x, adjacency):
  similarity = _cosine_matrix(x)
  np.fill_diagonal(similarity, -np.inf)
  top = np.argsort(-similarity, axis=1)[:, :10]
  queries = adjacency.any(1)
  hits = np.take_along_axis(adjacency, top, axis=1).mean(1)
  return float(hits[queries].mean())


def test_strong_content_words_retrieve_graph_neighbours(preset_dirs):
  ids, x, _, src, dst, _ = _graph(preset_dirs["strong_content"], "words")
  assert x.shape == (PRESET_ITEMS, 1433)
  nonzero = (x > 0).sum(1)
  assert np.all(x == np.round(x)) and x.min() == 0 and 15 < nonzero.mean() < 60
  adjacency = _adjacency(len(ids), src, dst)
  words = _precision_at_10(x, adjacency)
  queries = adjacency.any(1)
  random_baseline = float((adjacency.sum(1)[queries] / (len(ids) - 1)).mean())
  p_ids, p_x, _, p_src, p_dst, _ = _graph(preset_dirs["planted"], "mean_rgb")
  planted = _precision_at_10(p_x, _adjacency(len(p_ids), p_src, p_dst))
  assert words > 20 * random_baseline, (words, random_baseline)
  assert words > planted + 0.1, (words, planted)


def test_small_is_3k_items_of_mean_degree_2_unweighted(tmp_path):
  from launch import main as gcml
  assert gcml.main(["synth", f"--output_dir={tmp_path}", "--preset=small", "--processes=1"]) == 0
  hier, edges = _load(str(tmp_path))
  assert len(hier) == 3000
  distinct = {(min(a, b), max(a, b)) for a, b, _ in edges}
  assert 1.8 <= 2 * len(distinct) / len(hier) <= 2.2
  assert {w for _, _, w in edges} == {1.0}
  with open(tmp_path / "synth.json", encoding="utf-8") as f:
    stats = json.load(f)
  assert stats["preset"] == "small" and stats["config"]["unit_weights"] is True


@pytest.mark.parametrize("preset", ["graded", "strong_content"])
def test_presets_same_bytes_whatever_the_processes(preset, tmp_path):
  outputs = []
  for processes in (1, 2):
    out = str(tmp_path / str(processes))
    synth.generate(synth.config_for(preset, num_items=PRESET_ITEMS, seed=5, items_per_shard=1000,
                                    processes=processes), out, progress=_quiet)
    outputs.append(out)
  names = sorted(os.listdir(outputs[0]))
  assert len(names) == 10 and names == sorted(os.listdir(outputs[1]))
  _, mismatch, errors = filecmp.cmpfiles(outputs[0], outputs[1], names, shallow=False)
  assert not mismatch and not errors, mismatch
