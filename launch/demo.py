"""`gcml demo`: the whole flow on built-in defaults, one progress line per stage.

Stages run in order on a generated world of `--num_items` items; each prints
one line with its time, and the end says where everything is. Rerunning into
the same directory replaces the results (every stage rewrites its outputs).
"""

import argparse
import contextlib
import dataclasses
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable

from launch import demo_report, logs


@dataclasses.dataclass
class DemoConfig:
  output_dir: str = "out/demo"
  num_items: int = 20000
  seed: int = 0
  runner: str = "DirectRunner"
  train_steps: int = 400
  engine: str = "local"  # local: the in-memory engines; beam: every pipeline on `runner`

  def stage_flags(self) -> list[str]:
    """The engine (and, on Beam, the runner) flags of the pipeline stages."""
    if self.engine == "local":
      return ["--engine=local"]
    return ["--engine=beam", f"--runner={self.runner}"]


@dataclasses.dataclass
class Stage:
  name: str
  run: Callable[[DemoConfig], str]  # returns a one-line result


def _synth(c: DemoConfig) -> str:
  from pipelines import synth
  stats = synth.generate(synth.SynthConfig(num_items=c.num_items, seed=c.seed),
                         os.path.join(c.output_dir, "data"), progress=lambda _: None)
  return f"{stats['items']} items, {stats['edge_lines']} edge lines, " \
         f"{stats['micro_clusters']} planted micro-clusters"


def _validate(c: DemoConfig) -> str:
  from pipelines.validate import stage as validate
  data = os.path.join(c.output_dir, "data")
  section = validate.run([f"--edges={data}/edges-*.csv", f"--features={data}/features-*.tfrecord",
                          f"--output_dir={os.path.join(c.output_dir, 'validate')}",
                          *c.stage_flags()])
  rejected = sum(v for k, v in section.items() if k.startswith("rejected/"))
  return f"{section.get('edges/unique_edges', 0)} unique edges, {rejected} rejected"


def _cluster(c: DemoConfig) -> str:
  from pipelines.clustering import stage as cluster
  data = os.path.join(c.output_dir, "data")
  section = cluster.run([f"--edges={data}/edges-*.csv",
                         f"--output_dir={os.path.join(c.output_dir, 'cluster')}",
                         f"--seed={c.seed}", *c.stage_flags()])
  per_level = [s["clusters"] for s in section["level_stats"]]
  return f"{section['items']} items into clusters per level L0..L{len(per_level) - 1}: {per_level}"


# Methods compared by the demo: training-example kind and trainer mode.
METHODS = {"gcml": ("smart", "triplet"), "cdml": ("random", "triplet"), "clc": ("labels", "clc")}


def _examples(c: DemoConfig) -> str:
  from pipelines.examples import stage as make_examples
  data, out = os.path.join(c.output_dir, "data"), os.path.join(c.output_dir, "examples")
  counts = []
  for kind in ("smart", "random", "labels", "validation"):
    section = make_examples.run([
        f"--kind={kind}", f"--edges={data}/edges-*.csv", f"--features={data}/features-*.tfrecord",
        f"--clusters={os.path.join(c.output_dir, 'cluster')}", f"--output_dir={out}/{kind}",
        "--level=0", f"--seed={c.seed}", "--num_shards=4", *c.stage_flags()])
    total = section.get({"labels": "examples/total", "validation": "validation/items"}.get(
        kind, "triplets/total"), 0)
    counts.append(f"{kind} {total}")
  return ", ".join(counts)


def _train(c: DemoConfig) -> str:
  from launch import train
  from model import trainer
  results = []
  validation = os.path.join(c.output_dir, "examples", "validation")
  for method, (kind, mode) in METHODS.items():
    prefix = "examples" if kind == "labels" else "triplets"
    data = os.path.join(c.output_dir, "examples", kind, f"{prefix}-*.tfrecord")
    config, _ = train.config_from_argv([
        f"--mode={mode}", f"--train_data={data}", "--preset=demo",
        f"--model_dir={os.path.join(c.output_dir, 'train', method)}",
        f"--train_steps={c.train_steps}", "--batch_size=128", f"--seed={c.seed}",
        f"--validation_data={validation}", f"--validate_every={max(1, c.train_steps // 8)}"])
    result = trainer.train(config)
    v = result.validation
    results.append(f"{method} best validation MAP@60 {v['best']:.4f} at step {v['best_step']} "
                   f"(raw {v['raw']:.4f})")
  return f"{c.train_steps} steps each: " + ", ".join(results)


def _export(c: DemoConfig) -> str:
  from pipelines.export import stage as export
  data = os.path.join(c.output_dir, "data")
  for method in METHODS:
    export.run([f"--model_dir={os.path.join(c.output_dir, 'train', method)}",
                f"--features={data}/features-*.tfrecord", "--top_k=60",
                f"--output_dir={os.path.join(c.output_dir, 'export', method)}",
                *c.stage_flags()])
  return f"embeddings and related-items top-60 for {', '.join(METHODS)}"


def _evaluate(c: DemoConfig) -> str:
  from pipelines.evaluation import stage as evaluate
  data = os.path.join(c.output_dir, "data")
  # The first evaluation also reads every run's training summaries (usage-ratio
  # curves, margin table), so they are plotted side by side.
  runs = ",".join(f"{m.upper()}={os.path.join(c.output_dir, 'train', m)}" for m in METHODS)
  for i, method in enumerate(METHODS):
    evaluate.run([f"--embeddings={os.path.join(c.output_dir, 'export', method)}/embeddings-*",
                  f"--edges={data}/edges-*.csv", f"--features={data}/features-*.tfrecord",
                  f"--output_dir={os.path.join(c.output_dir, 'evaluate', method)}",
                  *([f"--model_dir={runs}"] if i == 0 else [])])
  return ("retrieval MAP@60 and NDCG@60 on the cold-start split, learned vs raw features; "
          "training curves")


STAGES = [Stage("synth", _synth), Stage("validate", _validate), Stage("cluster", _cluster),
          Stage("examples", _examples), Stage("train", _train), Stage("export", _export),
          Stage("evaluate", _evaluate)]


def _run_quietly(stage: Stage, config: DemoConfig) -> str:
  """Runs a stage with its own prints and logs in `OUTPUT/logs/<stage>.log`."""
  log_dir = os.path.join(config.output_dir, "logs")
  os.makedirs(log_dir, exist_ok=True)
  with open(os.path.join(log_dir, f"{stage.name}.log"), "w", encoding="utf-8") as log:
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    try:
      with contextlib.redirect_stdout(log):
        return stage.run(config)
    finally:
      root.handlers = saved
      logs.setup(level=logging.WARNING)


def parse_args(argv) -> DemoConfig:
  d = DemoConfig()
  p = argparse.ArgumentParser(prog="gcml demo", description=__doc__.splitlines()[0])
  p.add_argument("--output_dir", default=d.output_dir)
  p.add_argument("--num_items", type=int, default=d.num_items)
  p.add_argument("--seed", type=int, default=d.seed)
  p.add_argument("--runner", default=d.runner, help="Beam runner for the pipeline stages")
  p.add_argument("--train_steps", type=int, default=d.train_steps, help="steps per method")
  p.add_argument("--engine", default=d.engine, choices=("local", "beam"),
                 help="local: validate, cluster, examples and export in memory (the same bytes "
                 "as Beam, docs/engines.md); beam: every pipeline stage on --runner")
  a = p.parse_args(argv)
  return DemoConfig(a.output_dir, a.num_items, a.seed, a.runner, a.train_steps, a.engine)


def main(argv: list[str]) -> int:
  logs.setup(level=logging.WARNING)  # the demo prints its own lines; stages log to logs/
  config = parse_args(argv)
  for name in [s.name for s in STAGES] + ["data", "report"]:  # a rerun replaces results
    shutil.rmtree(os.path.join(config.output_dir, name), ignore_errors=True)
  start, times = time.time(), {}
  for i, stage in enumerate(STAGES, 1):
    t = time.time()
    print(f"[{i}/{len(STAGES)}] {stage.name} ...", flush=True)
    result = _run_quietly(stage, config)
    times[stage.name] = time.time() - t
    print(f"[{i}/{len(STAGES)}] {stage.name}: {result} ({times[stage.name]:.1f}s)", flush=True)
  rows = demo_report.collect(os.path.join(config.output_dir, "evaluate"), list(METHODS))
  paragraph = demo_report.reading(rows)
  path = demo_report.write_report(
      os.path.join(config.output_dir, "report"), rows, times, paragraph,
      training_dir=os.path.join(config.output_dir, "evaluate", next(iter(METHODS))),
      train_dir=os.path.join(config.output_dir, "train"))
  print(f"demo: done in {time.time() - start:.1f}s; report: {os.path.abspath(path)}")
  print(paragraph)
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("demo", sys.argv[1:]))
