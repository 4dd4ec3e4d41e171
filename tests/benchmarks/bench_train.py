"""`gcml bench train`: training steps/second, one step vs N steps per host call.

Triplet and CLC training (the trainer's own `make_replica_step`, in-function
loop `model.train_loop.make_train_loop` and input pipeline, default strategy)
at the demo (256 hidden / 64 emb) and paper (4000 hidden / 256 emb) network
sizes on synthetic YouTube-8M-shaped data (mean_rgb:1024, mean_audio:128),
each timed twice in one run: before (`steps_per_loop=1`: a host call and a
metrics read per step) and after (`--steps_per_loop`, default 20: one call and
one read per 20 steps); `ratio` is after / before in steps/s. Plus the input
pipeline alone (`model.input.make_dataset` iterated without training).

With `--demo_dir=DIR` (a `gcml demo` output, read only) it times instead the
demo's train stage as `gcml demo` runs it: its four models (`launch/demo.py`
`METHODS`, `train_config`) one after the other in one process, `--train_steps`
each (800), model folders in a temporary directory; per model the wall and CPU
seconds (`time.process_time`, every thread) and the best validation MAP@60.

`main(argv) -> dict`; prints the dict as JSON. Flags: --batch_size (64),
--steps (timed steps per variant, 40; a multiple of --steps_per_loop),
--steps_per_loop (20), --records (512), --num_classes (1000), --num_sampled
(100), --sizes (demo,paper), --modes (triplet,clc).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time

import numpy as np

MODS = (("mean_rgb", 1024), ("mean_audio", 128))


def _write(d, n, num_classes, rng):
  from pipelines.io import sharded_io, tf_example

  def item():
    return {m: rng.normal(size=dim).astype(np.float32) for m, dim in MODS}

  trip, lab = [], []
  for i in range(n):
    rec = {"level": [0]}
    for role in ("anchor", "positive", "negative"):
      rec[f"{role}/id"] = f"v{i}-{role}"
      rec.update({f"{role}/{m}": x for m, x in item().items()})
    trip.append(tf_example.encode(rec))
    lab.append(tf_example.encode({"id": f"v{i}", "label": [int(rng.integers(num_classes))],
                                  **item()}))
  out = {}
  for name, recs in (("t", trip), ("l", lab)):
    sharded_io.write_sorted_shards_local([(f"{i:06d}", r) for i, r in enumerate(recs)],
                                         os.path.join(d, name), ".tfrecord", 2,
                                         record_format=sharded_io.TFRECORD)
    out[name] = os.path.join(d, name + "-*.tfrecord")
  return out


def _bench_train(mode, size, data, model_dir, args) -> dict:
  import tensorflow as tf

  from model import train_inputs, train_objects
  from model.steps import make_replica_step
  from model.train_loop import make_train_loop
  from model.trainer_config import TrainConfig

  cfg = TrainConfig.from_flags(
      preset=size, mode=mode, train_data=data, model_dir=model_dir,
      modalities=",".join(f"{m}:{d}" for m, d in MODS), batch_size=args.batch_size,
      num_classes=args.num_classes, num_sampled=args.num_sampled, shuffle_buffer=256,
      learning_rate=1e-3 if size == "demo" else None).validate()
  strategy = tf.distribute.get_strategy()
  objs = train_objects.TrainObjects(cfg, strategy)
  loop = make_train_loop(strategy, make_replica_step(cfg, objs.model, objs.optimizer,
                                                     objs.table))
  it = iter(train_inputs.distributed_dataset(cfg, strategy))  # noqa: SLF001
  out = {"hidden_units": list(cfg.model.hidden_units), "embedding_dim": cfg.model.embedding_dim,
         "optimizer": cfg.trainer.optimizer,
         "params": sum(int(np.prod(v.shape)) for v in objs.model.trainable_variables)}
  t = time.perf_counter()
  for n in (1, args.steps_per_loop):  # one trace serves every loop length
    float(loop(it, tf.constant(n))[0]["loss"])
  out["warmup_s"] = round(time.perf_counter() - t, 2)
  for per_loop in (1, args.steps_per_loop):
    t = time.perf_counter()
    for _ in range(args.steps // per_loop):
      metrics, losses = loop(it, tf.constant(per_loop))
      loss = float(metrics["loss"])  # the host read, once per call
    dt = time.perf_counter() - t
    steps = args.steps // per_loop * per_loop
    out[f"steps_per_loop_{per_loop}"] = {
        "steps_per_second": round(steps / dt, 2),
        "examples_per_second": round(steps * args.batch_size / dt, 1), "last_loss": loss}
  before = out["steps_per_loop_1"]["steps_per_second"]
  after = out[f"steps_per_loop_{args.steps_per_loop}"]["steps_per_second"]
  out["ratio"] = round(after / before, 3)
  return out


def _bench_input(kind, data, args) -> dict:
  from model import input as input_lib

  ic = input_lib.InputConfig(data, kind, MODS, batch_size=args.batch_size, shuffle_buffer=256,
                             repeat=True, seed=0)
  it = iter(input_lib.make_dataset(ic))
  next(it)
  n = max(args.steps * 5, 50)
  t = time.perf_counter()
  for _ in range(n):
    next(it)
  dt = time.perf_counter() - t
  return {"examples_per_second": round(n * args.batch_size / dt, 1), "batches": n}


def _bench_demo(demo_dir: str, train_steps: int) -> dict:
  """The demo's train stage on `demo_dir`'s examples: per model seconds and best MAP@60."""
  import dataclasses

  from launch import demo
  from model import trainer
  from launch import bench  # pylint: disable=import-outside-toplevel

  c = demo.DemoConfig(output_dir=demo_dir, train_steps=train_steps)
  validation = os.path.join(demo_dir, "examples", "validation")
  out = {}
  with tempfile.TemporaryDirectory() as d:
    for method, (kind, mode) in demo.METHODS.items():
      config = demo.train_config(c, method, kind, mode, validation)
      config = dataclasses.replace(config, runtime=dataclasses.replace(
          config.runtime, model_dir=os.path.join(d, method)))
      wall, cpu = time.perf_counter(), time.process_time()
      result = trainer.train(config)
      bench.require_finished(result, method)
      v = result.validation
      out[method] = {"wall_s": round(time.perf_counter() - wall, 1),
                     "cpu_s": round(time.process_time() - cpu, 1),
                     "best_map@60": round(v["best"], 4), "best_step": v["best_step"],
                     "raw_map@60": round(v["raw"], 4)}
      print(f"{method}: {out[method]}", flush=True)
  return out


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench train", description=__doc__.splitlines()[0],
                              allow_abbrev=False)
  p.add_argument("--batch_size", type=int, default=64)
  p.add_argument("--steps", type=int, default=40)
  p.add_argument("--steps_per_loop", type=int, default=20)
  p.add_argument("--records", type=int, default=512)
  p.add_argument("--num_classes", type=int, default=1000)
  p.add_argument("--num_sampled", type=int, default=100)
  p.add_argument("--sizes", default="demo,paper")
  p.add_argument("--modes", default="triplet,clc")
  p.add_argument("--demo_dir", default="", help="a gcml demo output: time its train stage")
  p.add_argument("--train_steps", type=int, default=800, help="with --demo_dir: steps per model")
  args = p.parse_args(argv)
  importlib.import_module("model")  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
  import tensorflow as tf

  if args.demo_dir:
    wall, cpu = time.perf_counter(), time.process_time()
    result = {"demo_dir": args.demo_dir, "train_steps": args.train_steps, "cpus": os.cpu_count(),
              "models": _bench_demo(args.demo_dir, args.train_steps)}
    result.update(wall_s=round(time.perf_counter() - wall, 1),
                  cpu_s=round(time.process_time() - cpu, 1))
    print(json.dumps(result, indent=1))
    return result

  tf.keras.utils.set_random_seed(0)
  result = {"batch_size": args.batch_size, "steps": args.steps,
            "steps_per_loop": args.steps_per_loop, "cpus": os.cpu_count(),
            "devices": [d.name for d in tf.config.list_logical_devices()
                        if d.device_type != "CPU"] or ["CPU"],
            "modalities": dict(MODS), "num_classes": args.num_classes,
            "num_sampled": args.num_sampled, "train": {}, "input": {}}
  with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter()
    data = _write(d, args.records, args.num_classes, np.random.default_rng(0))
    result["write_data_s"] = round(time.perf_counter() - t, 2)
    result["input"]["triplet"] = _bench_input("triplet", data["t"], args)
    result["input"]["labels"] = _bench_input("labels", data["l"], args)
    for size in args.sizes.split(","):
      for mode in args.modes.split(","):
        result["train"][f"{mode}_{size}"] = _bench_train(
            mode, size, data["t" if mode == "triplet" else "l"],
            os.path.join(d, f"m_{mode}_{size}"), args)
  result["ratios"] = {k: v["ratio"] for k, v in result["train"].items()}
  print(json.dumps(result, indent=1))
  for name, r in result["train"].items():
    before, after = r["steps_per_loop_1"], r[f"steps_per_loop_{args.steps_per_loop}"]
    print(f"{name}: {before['steps_per_second']} steps/s at steps_per_loop=1, "
          f"{after['steps_per_second']} at {args.steps_per_loop}: ratio {r['ratio']}")
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
