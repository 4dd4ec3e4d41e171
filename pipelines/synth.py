"""A synthetic co-watch world: planted hierarchy, edges, features, labels.

The generator stands in for YouTube-scale data in demos, tests and
benchmarks. It is plain numpy (not Beam): vectorised, chunked into shards, and
each shard is drawn from its own seeded generator, so the files are
byte-identical for a seed whatever the number of processes.

The world:
* A 3-level hierarchy: topics > subtopics > micro-clusters. Micro-cluster
  sizes vary (log-normal); items are numbered so that every group is a
  contiguous index range, and their public ids are a seeded permutation, so
  ids say nothing about the hierarchy.
* Items have a heavy-tailed popularity (Pareto). An edge picks its source in
  proportion to popularity, then a level (same micro-cluster, same subtopic,
  same topic, or anywhere: cross-topic noise), then a partner at exactly that
  level, again in proportion to popularity. Degrees are therefore heavy
  tailed, and edge weights (co-watch scores) are larger the closer the two
  items sit in the hierarchy, with log-normal noise.
* Content features per modality are noisy random projections of a latent
  vector (topic + subtopic + micro-cluster + item parts). Modalities see the
  parts with different strengths (the first sees all of them, the others
  mainly the topic and subtopic), so content carries part of the relation
  signal but not all of it.
* YouTube-8M-style labels: a topic label, usually a subtopic label, and
  sometimes an unrelated one.

Files (contracts 1 and 2, plus the truth for evaluation):
`edges-*.csv` (`src,dst,weight`), `features-*.tfrecord`,
`hierarchy-*.tsv` (`id\ttopic\tsubtopic\tmicro`) and `synth.json`.
"""

import dataclasses
import json
import math
import multiprocessing
import os
import time

import numpy as np

from pipelines import sharded_io, tf_example
from pipelines.errors import InputError
from pipelines.features import DEFAULT_MODALITIES, Modality

LEVELS = ("micro", "subtopic", "topic", "noise")


@dataclasses.dataclass(frozen=True)
class SynthConfig:
  """What to generate.

  Attributes:
    num_items: number of items.
    seed: the world's seed; same seed, same bytes.
    branching: (topics, subtopics per topic, micro-clusters per subtopic);
      topics 0 means chosen from num_items and mean_micro_size.
    mean_micro_size: average items per micro-cluster when topics is 0.
    mean_degree: average degree; the edge lines are num_items*mean_degree/2.
    level_mix: share of edges within a micro-cluster, within a subtopic,
      within a topic, and across topics.
    level_weight: typical edge weight at each of those levels.
    weight_noise: sigma of the log-normal weight noise.
    popularity_alpha: Pareto shape of item popularity (smaller: heavier tail).
    latent_dim: size of the latent vectors behind the features.
    modalities: feature vectors to write, with their sizes.
    feature_noise: noise added to each projected feature, relative to signal.
    items_per_shard: items per features/hierarchy shard (also sets the number
      of edge shards).
    processes: worker processes (does not change the output).
  """
  num_items: int = 20000
  seed: int = 0
  branching: tuple = (0, 4, 5)
  mean_micro_size: int = 50
  mean_degree: float = 20.0
  level_mix: tuple = (0.55, 0.25, 0.12, 0.08)
  level_weight: tuple = (8.0, 4.0, 2.0, 1.0)
  weight_noise: float = 0.35
  popularity_alpha: float = 1.5
  latent_dim: int = 32
  modalities: tuple = DEFAULT_MODALITIES
  feature_noise: float = 1.0
  items_per_shard: int = 25000
  processes: int = 2

  def validate(self) -> None:
    if self.num_items < 20:
      raise InputError(f"--num_items must be at least 20, got {self.num_items}")
    t, s, m = self.branching
    if t < 0 or s < 2 or m < 2:
      raise InputError(f"--branching needs topics >= 0 and at least 2 subtopics and 2 "
                       f"micro-clusters per parent, got {self.branching}")
    if len(self.level_mix) != 4 or abs(sum(self.level_mix) - 1) > 1e-6 or min(self.level_mix) < 0:
      raise InputError(f"--level_mix needs 4 non-negative shares summing to 1, got {self.level_mix}")
    if self.mean_degree <= 0 or self.items_per_shard <= 0:
      raise InputError("--mean_degree and --items_per_shard must be positive")

  @property
  def num_edges(self) -> int:
    return int(round(self.num_items * self.mean_degree / 2))

  @property
  def num_shards(self) -> int:
    return max(1, math.ceil(self.num_items / self.items_per_shard))

  def topics(self) -> int:
    t, s, m = self.branching
    if t:
      return t
    return max(2, int(round(self.num_items / (self.mean_micro_size * s * m))))


@dataclasses.dataclass
class World:
  """The planted structure, derived from the seed alone (small: O(items))."""
  config: SynthConfig
  micro_bounds: np.ndarray  # [num_micro + 1] start index of each micro-cluster
  popularity_cum: np.ndarray  # [num_items + 1] cumulative popularity (float64)
  public_ids: np.ndarray  # [num_items] item index -> public integer id
  latent_groups: tuple  # (topic [T,L], subtopic [T*S,L], micro [T*S*M,L])
  projections: dict  # modality -> [L, dim] (float32)
  visibility: dict  # modality -> (topic, subtopic, micro, item) weights

  @property
  def branching(self):
    _, s, m = self.config.branching
    return self.config.topics(), s, m

  def group_bounds(self, level: int) -> np.ndarray:
    """Start indices of the groups at a level: 0 micro, 1 subtopic, 2 topic."""
    _, s, m = self.branching
    step = (1, m, s * m)[level]
    return self.micro_bounds[::step]

  def group_of(self, index: np.ndarray, level: int) -> np.ndarray:
    return np.searchsorted(self.group_bounds(level), index, side="right") - 1


def make_world(config: SynthConfig) -> World:
  config.validate()
  rng = np.random.default_rng([config.seed, 0])
  t, s, m = config.topics(), config.branching[1], config.branching[2]
  num_micro = t * s * m
  if config.num_items < 2 * num_micro:
    raise InputError(f"{config.num_items} items are too few for {num_micro} micro-clusters "
                     f"(branching {t},{s},{m}); lower --branching or raise --num_items")
  sizes = rng.lognormal(0.0, 0.5, num_micro)
  sizes = 2 + np.floor(sizes / sizes.sum() * (config.num_items - 2 * num_micro)).astype(np.int64)
  sizes[: config.num_items - sizes.sum()] += 1
  bounds = np.concatenate([[0], np.cumsum(sizes)])
  popularity = (rng.pareto(config.popularity_alpha, config.num_items) + 1.0)
  cum = np.concatenate([[0.0], np.cumsum(popularity)])
  ids = rng.permutation(config.num_items)
  dim = config.latent_dim
  groups = (rng.normal(0, 1.0, (t, dim)), rng.normal(0, 0.8, (t * s, dim)),
            rng.normal(0, 0.6, (num_micro, dim)))
  projections, visibility = {}, {}
  for k, mod in enumerate(config.modalities):
    projections[mod.name] = (rng.normal(0, 1.0 / math.sqrt(dim), (dim, mod.dim))
                             .astype(np.float32))
    # The first modality sees every part of the latent; the others see mostly
    # topic and subtopic, as audio does for video.
    visibility[mod.name] = (1.0, 1.0, 0.8, 0.5) if k == 0 else (1.0, 0.7, 0.2, 0.3)
  return World(config, bounds, cum, ids, groups, projections, visibility)


def _sample_in_ranges(rng, cum, lo, hi, skip_lo=None, skip_hi=None):
  """Samples one index per row in [lo, hi) minus [skip_lo, skip_hi), by popularity."""
  total = cum[hi] - cum[lo]
  if skip_lo is not None:
    hole = cum[skip_hi] - cum[skip_lo]
    u = rng.random(len(lo)) * (total - hole)
    u = np.where(u >= cum[skip_lo] - cum[lo], u + hole, u)
  else:
    u = rng.random(len(lo)) * total
  idx = np.searchsorted(cum, cum[lo] + u, side="right") - 1
  return np.clip(idx, lo, hi - 1)


def edge_chunk(world: World, shard: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Draws the edges of one shard: (src index, dst index, weight, level)."""
  config = world.config
  per = config.num_edges // config.num_shards
  count = per + (config.num_edges % config.num_shards if shard == config.num_shards - 1 else 0)
  rng = np.random.default_rng([config.seed, 1, shard])
  cum = world.popularity_cum
  n = config.num_items
  src = np.searchsorted(cum, rng.random(count) * cum[-1], side="right") - 1
  src = np.clip(src, 0, n - 1)
  level = rng.choice(4, size=count, p=np.asarray(config.level_mix))
  dst = np.empty(count, np.int64)
  for lv in range(4):
    rows = np.nonzero(level == lv)[0]
    if not len(rows):
      continue
    s = src[rows]
    if lv == 3:  # anywhere outside the source's topic
      b = world.group_bounds(2)
      g = world.group_of(s, 2)
      lo, hi = np.zeros_like(s), np.full_like(s, n)
      dst[rows] = _sample_in_ranges(rng, cum, lo, hi, b[g], b[g + 1])
      continue
    b = world.group_bounds(lv)
    g = world.group_of(s, lv)
    if lv == 0:
      dst[rows] = _sample_in_ranges(rng, cum, b[g], b[g + 1])
    else:
      inner = world.group_bounds(lv - 1)
      gi = world.group_of(s, lv - 1)
      dst[rows] = _sample_in_ranges(rng, cum, b[g], b[g + 1], inner[gi], inner[gi + 1])
  # A self-loop becomes an edge to the next item of the same micro-cluster.
  loops = dst == src
  if loops.any():
    b = world.group_bounds(0)
    g = world.group_of(src[loops], 0)
    nxt = src[loops] + 1
    dst[loops] = np.where(nxt < b[g + 1], nxt, b[g])
  base = np.asarray(config.level_weight)[level]
  weight = np.round(base * rng.lognormal(0.0, config.weight_noise, count), 3)
  weight = np.maximum(weight, 0.001)
  return src, dst, weight, level


def features_chunk(world: World, shard: int) -> tuple[np.ndarray, dict, list]:
  """The items of one shard: (indices, modality -> [k, dim] float32, labels)."""
  config = world.config
  lo = shard * config.items_per_shard
  hi = min(config.num_items, lo + config.items_per_shard)
  index = np.arange(lo, hi)
  rng = np.random.default_rng([config.seed, 2, shard])
  micro = world.group_of(index, 0)
  _, s, m = world.branching
  sub, topic = micro // m, micro // (s * m)
  zt, zs, zm = world.latent_groups
  own = rng.normal(0, 0.5, (len(index), config.latent_dim))
  vectors = {}
  for mod in config.modalities:
    a, b, c, d = world.visibility[mod.name]
    latent = a * zt[topic] + b * zs[sub] + c * zm[micro] + d * own
    x = latent.astype(np.float32) @ world.projections[mod.name]
    noise = rng.normal(0, config.feature_noise * float(np.std(x)) + 1e-6, x.shape)
    vectors[mod.name] = (x + noise).astype(np.float32)
  num_topics = world.branching[0]
  extra = rng.integers(0, num_topics * (1 + s), len(index))
  has_sub, has_extra = rng.random(len(index)) < 0.7, rng.random(len(index)) < 0.1
  labels = []
  for i in range(len(index)):
    row = {int(topic[i])}
    if has_sub[i]:
      row.add(num_topics + int(sub[i]))
    if has_extra[i]:
      row.add(int(extra[i]))
    labels.append(sorted(row))
  return index, vectors, labels


def id_strings(world: World, index: np.ndarray) -> list[str]:
  width = len(str(world.config.num_items - 1))
  return [f"v{k:0{width}d}" for k in world.public_ids[index].tolist()]


_WORLD: World | None = None  # set in the parent before forking the workers
_OUTPUT: str = ""


def _write_edges(shard: int) -> dict:
  world, config = _WORLD, _WORLD.config
  src, dst, weight, level = edge_chunk(world, shard)
  names = np.asarray(id_strings(world, np.arange(config.num_items)), dtype=object)
  lines = [f"{a},{b},{w:.3f}" for a, b, w in zip(names[src], names[dst], weight.tolist())]
  data = ("src,dst,weight\n" + "\n".join(lines) + "\n").encode()
  path = sharded_io.shard_path(os.path.join(_OUTPUT, "edges"), shard, config.num_shards, ".csv")
  sharded_io.atomic_write(path, data)
  degree = np.bincount(src, minlength=config.num_items) + np.bincount(dst, minlength=config.num_items)
  return {"edges": len(src), "by_level": np.bincount(level, minlength=4),
          "weight_sum": np.bincount(level, weights=weight, minlength=4), "degree": degree}


def _write_items(shard: int) -> dict:
  world, config = _WORLD, _WORLD.config
  index, vectors, labels = features_chunk(world, shard)
  ids = id_strings(world, index)
  out = bytearray()
  for i, item_id in enumerate(ids):
    record = {"id": item_id, "labels": labels[i]}
    for name, v in vectors.items():
      record[name] = v[i]
    out += sharded_io.tfrecord_frame(tf_example.encode(record))
  n = config.num_shards
  sharded_io.atomic_write(
      sharded_io.shard_path(os.path.join(_OUTPUT, "features"), shard, n, ".tfrecord"), bytes(out))
  micro = world.group_of(index, 0)
  _, s, m = world.branching
  rows = [f"{i}\tt{g // (s * m)}\tt{g // (s * m)}.s{(g // m) % s}\tt{g // (s * m)}.s{(g // m) % s}.m{g % m}"
          for i, g in zip(ids, micro.tolist())]
  sharded_io.atomic_write(
      sharded_io.shard_path(os.path.join(_OUTPUT, "hierarchy"), shard, n, ".tsv"),
      ("id\ttopic\tsubtopic\tmicro\n" + "\n".join(rows) + "\n").encode())
  return {"items": len(index)}


def _run_task(task):
  kind, shard = task
  return kind, (_write_edges if kind == "edges" else _write_items)(shard)


def generate(config: SynthConfig, output_dir: str, progress=print) -> dict:
  """Writes the world to `output_dir`; returns the statistics in synth.json."""
  global _WORLD, _OUTPUT
  start = time.time()
  world = make_world(config)
  os.makedirs(output_dir, exist_ok=True)
  for prefix, suffix in (("edges", ".csv"), ("features", ".tfrecord"), ("hierarchy", ".tsv")):
    sharded_io.remove_shards(os.path.join(output_dir, prefix), suffix)
  _WORLD, _OUTPUT = world, output_dir
  tasks = [(kind, k) for k in range(config.num_shards) for kind in ("edges", "items")]
  degree = np.zeros(config.num_items, np.int64)
  by_level, weight_sum, edges, done = np.zeros(4, np.int64), np.zeros(4), 0, 0
  processes = max(1, min(config.processes, len(tasks)))
  ctx = multiprocessing.get_context("fork")
  with ctx.Pool(processes) if processes > 1 else _InProcess() as pool:
    for kind, result in pool.imap_unordered(_run_task, tasks):
      done += 1
      if kind == "edges":
        edges += result["edges"]
        by_level += result["by_level"]
        weight_sum += result["weight_sum"]
        degree += result["degree"]
      if done % max(1, len(tasks) // 10) == 0 or done == len(tasks):
        progress(f"synth: {done}/{len(tasks)} shards written ({time.time() - start:.1f}s)")
  _WORLD = None
  t, s, m = world.branching
  q = np.percentile(degree, [50, 90, 99]).tolist()
  stats = {
      "config": {k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in dataclasses.asdict(config).items() if k != "processes"},
      "topics": t, "subtopics": t * s, "micro_clusters": t * s * m,
      "items": config.num_items, "edge_lines": int(edges),
      "edges_by_level": dict(zip(LEVELS, by_level.tolist())),
      "mean_weight_by_level": dict(zip(LEVELS, np.round(weight_sum / np.maximum(by_level, 1), 4).tolist())),
      "degree": {"mean": round(float(degree.mean()), 3), "p50": q[0], "p90": q[1], "p99": q[2],
                 "max": int(degree.max()), "isolated": int((degree == 0).sum())},
      "label_vocabulary": t * (1 + s),
      "seconds": round(time.time() - start, 2),
  }
  sharded_io.atomic_write(os.path.join(output_dir, "synth.json"),
                          (json.dumps({k: v for k, v in stats.items() if k != "seconds"},
                                      indent=2, sort_keys=True) + "\n").encode())
  return stats


class _InProcess:
  """The Pool interface, run in this process (processes=1)."""

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False

  def imap_unordered(self, fn, tasks):
    return map(fn, tasks)
