"""Writes a synthetic world as sharded files and its statistics (synth.json).

Shards are written by a pool of forked processes; each shard's content comes
from its own seeded generator, so the bytes do not depend on `processes`.
"""

import dataclasses
import json
import multiprocessing
import os
import time

import numpy as np

from pipelines.io import sharded_io, tf_example
from pipelines.io import tfrecord_frames
from pipelines.synth.config import SynthConfig
from pipelines.synth.content import features_chunk
from pipelines.synth.frames import write_frames_shard
from pipelines.synth.world import LEVELS, World, edge_chunk, id_strings, make_world


# Recorded in synth.json only with --frames, so other worlds' files keep their bytes.
_FRAME_FIELDS = ("frames", "min_frames", "max_frames", "frame_drift")
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
    out += tfrecord_frames.tfrecord_frame(tf_example.encode(record))
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
  frames = write_frames_shard(config, _OUTPUT, shard, ids, vectors, labels) if config.frames else 0
  return {"items": len(index), "frames": frames}


def _run_task(task):
  kind, shard = task
  return kind, (_write_edges if kind == "edges" else _write_items)(shard)


def generate(config: SynthConfig, output_dir: str, progress=print) -> dict:
  """Writes the world to `output_dir`; returns the statistics in synth.json.

  Args:
    config: the world's SynthConfig.
    output_dir: the folder to write.
    progress: called with a progress line every tenth of the shards (default: print).

  Returns:
    The statistics written to synth.json.
  """
  global _WORLD, _OUTPUT
  start = time.time()
  world = make_world(config)
  os.makedirs(output_dir, exist_ok=True)
  for prefix, suffix in (("edges", ".csv"), ("features", ".tfrecord"), ("frames", ".tfrecord"),
                         ("hierarchy", ".tsv")):
    sharded_io.remove_shards(os.path.join(output_dir, prefix), suffix)
  _WORLD, _OUTPUT = world, output_dir
  tasks = [(kind, k) for k in range(config.num_shards) for kind in ("edges", "items")]
  degree = np.zeros(config.num_items, np.int64)
  by_level, weight_sum, edges, done = np.zeros(4, np.int64), np.zeros(4), 0, 0
  frames = 0
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
      else:
        frames += result["frames"]
      if done % max(1, len(tasks) // 10) == 0 or done == len(tasks):
        progress(f"synth: {done}/{len(tasks)} shards written ({time.time() - start:.1f}s)")
  _WORLD = None
  t, s, m = world.branching
  q = np.percentile(degree, [50, 90, 99]).tolist()
  stats = {
      "config": {k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in dataclasses.asdict(config).items()
                 if k != "processes" and (config.frames or k not in _FRAME_FIELDS)},
      "preset": config.preset,
      "topics": t, "subtopics": t * s, "micro_clusters": t * s * m,
      "items": config.num_items, "edge_lines": int(edges),
      "edges_by_level": dict(zip(LEVELS, by_level.tolist())),
      "mean_weight_by_level": dict(zip(LEVELS, np.round(weight_sum / np.maximum(by_level, 1), 4).tolist())),
      "degree": {"mean": round(float(degree.mean()), 3), "p50": q[0], "p90": q[1], "p99": q[2],
                 "max": int(degree.max()), "isolated": int((degree == 0).sum())},
      "label_vocabulary": t * (1 + s),
      **({"frames": frames} if config.frames else {}),
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
