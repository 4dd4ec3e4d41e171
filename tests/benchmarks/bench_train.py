"""`gcml bench train`: training examples/second on this machine.

Triplet and CLC steps (the trainer's own `make_replica_step` and input
pipeline, default strategy) at the demo (256 hidden / 64 emb) and paper
(4000 hidden / 256 emb) network sizes on synthetic YouTube-8M-shaped data
(mean_rgb:1024, mean_audio:128), plus the input pipeline alone
(`model.input.make_dataset` iterated without training).

`main(argv) -> dict`; prints the dict as JSON. Flags: --batch_size (64),
--steps (timed steps, 20), --warmup (3), --records (512), --num_classes (1000),
--num_sampled (100), --sizes (demo,paper), --modes (triplet,clc).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

MODS = (("mean_rgb", 1024), ("mean_audio", 128))


def _write(d, n, num_classes, rng):
  from pipelines import sharded_io, tf_example

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

  from model import trainer
  from model.steps import make_replica_step
  from model.trainer_config import TrainConfig

  cfg = TrainConfig.from_flags(
      preset=size, mode=mode, train_data=data, model_dir=model_dir,
      modalities=",".join(f"{m}:{d}" for m, d in MODS), batch_size=args.batch_size,
      num_classes=args.num_classes, num_sampled=args.num_sampled, shuffle_buffer=256,
      learning_rate=1e-3 if size == "demo" else None).validate()
  strategy = tf.distribute.get_strategy()
  objs = trainer._Objects(cfg, strategy)  # noqa: SLF001  (the trainer's own objects)
  step_fn = make_replica_step(cfg, objs.model, objs.optimizer, objs.table)
  it = iter(trainer._dataset(cfg, strategy))  # noqa: SLF001

  @tf.function
  def step(iterator):
    return strategy.run(step_fn, args=(next(iterator),))

  t = time.perf_counter()
  for _ in range(args.warmup):
    loss = float(step(it)["loss"])
  compile_s = time.perf_counter() - t
  t = time.perf_counter()
  for _ in range(args.steps):
    out = step(it)
  loss = float(out["loss"])
  dt = time.perf_counter() - t
  params = sum(int(np.prod(v.shape)) for v in objs.model.trainable_variables)
  return {"examples_per_second": round(args.steps * args.batch_size / dt, 1),
          "steps_per_second": round(args.steps / dt, 2), "warmup_s": round(compile_s, 2),
          "hidden_units": list(cfg.model.hidden_units), "embedding_dim": cfg.model.embedding_dim,
          "optimizer": cfg.optimizer, "params": params, "last_loss": loss}


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


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench train", description=__doc__.splitlines()[0])
  p.add_argument("--batch_size", type=int, default=64)
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--warmup", type=int, default=3)
  p.add_argument("--records", type=int, default=512)
  p.add_argument("--num_classes", type=int, default=1000)
  p.add_argument("--num_sampled", type=int, default=100)
  p.add_argument("--sizes", default="demo,paper")
  p.add_argument("--modes", default="triplet,clc")
  args = p.parse_args(argv)
  import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
  import tensorflow as tf

  tf.keras.utils.set_random_seed(0)
  result = {"batch_size": args.batch_size, "steps": args.steps, "cpus": os.cpu_count(),
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
  return result


if __name__ == "__main__":
  print(json.dumps(main(sys.argv[1:]), indent=1))
