"""`gcml demo`: the whole flow on built-in defaults, one progress line per stage.

Stages run in order on a generated world of `--num_items` items; each prints
one line with its time, and the end says where everything is. Rerunning into
the same directory replaces the results (every stage rewrites its outputs).
"""

import dataclasses
import logging
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from typing import Literal

from launch import demo_jobs, demo_report, logs
from pipelines import config_flags, runner
from pipelines.errors import InputError

# The demo's tower: starts at the raw features (docs/comparison.md, identity tower section).
DEMO_TOWER = "identity_linear"
# Methods compared by the demo: training-example kind and trainer mode. The first is the
# primary model, the `demo` train preset's default (contrastive mode, identity tower): the
# one configuration above raw features on all four synthetic presets (docs/comparison.md).
# The papers' methods follow, with the same tower.
PRIMARY = "contrastive"
METHODS = {PRIMARY: ("smart", "contrastive"), "gcml": ("smart", "triplet"),
           "cdml": ("random", "triplet"), "clc": ("labels", "clc")}


@dataclasses.dataclass
class DemoConfig:
  """The demo's settings (flags of the same names, `pipelines/config_flags.py`).

  Attributes:
    output_dir: where every stage writes (one folder each).
    num_items: items of the generated world.
    seed: seed of the world, the clustering, the examples and the training.
    runner: Beam runner for the pipeline stages (with --engine=beam).
    train_steps: steps per method.
    engine: local: validate, cluster, examples and export in memory (the same
      bytes as Beam, docs/engines.md); beam: every pipeline stage on --runner.
    methods: the methods trained, exported, evaluated and reported
      (comma-separated, of contrastive, gcml, cdml, clc, or `all`); only the
      examples they read are made. The default is the primary model alone,
      which the report sets against the raw features; `all` adds the papers'
      methods on the same tower (about 3x the demo's time: each model trains
      and searches in the features' 1,152 dimensions).
    jobs: runs of a stage at a time (examples kinds, trainings, exports), each
      in a child process with its own log (logs/STAGE-RUN.log); 1: one after
      another in this process; 0: one per core.
  """
  output_dir: str = "out/demo"
  num_items: int = 20000
  seed: int = 0
  runner: str = "DirectRunner"
  train_steps: int = 800  # x batch 64 (the demo preset): 51,200 examples, as 400 x 128 was
  engine: Literal["local", "beam"] = "local"
  methods: str = PRIMARY
  jobs: int = 1

  def __post_init__(self):
    unknown = [m for m in self.method_names() if m not in METHODS]
    if unknown or not self.method_names():
      raise InputError(f"--methods: {','.join(unknown) or 'none given'}: choose from "
                       f"{', '.join(METHODS)} or all")
    if self.jobs < 0:
      raise InputError(f"--jobs must be >= 0 (0: one per core), got {self.jobs}")

  def method_names(self) -> list[str]:
    """The `--methods` chosen, in the order of METHODS (the first leads the report)."""
    chosen = {m.strip() for m in self.methods.split(",") if m.strip()}
    if "all" in chosen:
      chosen = (chosen - {"all"}) | set(METHODS)
    return [m for m in METHODS if m in chosen] + sorted(chosen - set(METHODS))

  def pipeline_args(self) -> list[str]:
    """The Beam options of the pipeline stages (the runner, on `engine=beam`)."""
    return [] if self.engine == "local" else [f"--runner={self.runner}"]


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
  section = validate.run_config(validate.ValidateConfig(
      f"{data}/edges-*.csv", f"{data}/features-*.tfrecord",
      os.path.join(c.output_dir, "validate"), engine=c.engine), c.pipeline_args())
  rejected = sum(v for k, v in section.items() if k.startswith("rejected/"))
  return f"{section.get('edges/unique_edges', 0)} unique edges, {rejected} rejected"


def _cluster(c: DemoConfig) -> str:
  from pipelines.clustering import stage as cluster
  data = os.path.join(c.output_dir, "data")
  section = cluster.run_config(cluster.ClusterConfig(
      f"{data}/edges-*.csv", os.path.join(c.output_dir, "cluster"), seed=c.seed,
      engine=c.engine), c.pipeline_args())
  per_level = [s["clusters"] for s in section["level_stats"]]
  return f"{section['items']} items into clusters per level L0..L{len(per_level) - 1}: {per_level}"


def _examples_of_kind(c: DemoConfig, kind: str) -> str:
  from pipelines.examples import stage as make_examples
  data, out = os.path.join(c.output_dir, "data"), os.path.join(c.output_dir, "examples")
  section = make_examples.run_config(make_examples.ExamplesConfig(
      kind, f"{data}/features-*.tfrecord", f"{out}/{kind}", edges=f"{data}/edges-*.csv",
      clusters=os.path.join(c.output_dir, "cluster"), level=0, seed=c.seed, num_shards=4,
      engine=c.engine), c.pipeline_args())
  total = section.get({"labels": "examples/total", "validation": "validation/items"}.get(
      kind, "triplets/total"), 0)
  return f"{kind} {total}"


def _examples(c: DemoConfig) -> str:
  kinds = {METHODS[m][0] for m in c.method_names()}
  kinds = [k for k in ("smart", "random", "labels") if k in kinds] + ["validation"]
  return ", ".join(_each("examples", _examples_of_kind, c, kinds))


def _each(stage: str, function, c: DemoConfig, items: list[str]) -> list:
  return demo_jobs.run_each(stage, function, c, items, c.jobs,
                            os.path.join(c.output_dir, "logs"))


def train_config(c: DemoConfig, method: str, kind: str, mode: str, validation: str,
                 read_inputs: bool = True):
  """The `TrainConfig` of one demo method, built from typed values.

  No batch size: the `demo` train preset's (64). At an equal number of examples,
  batch 64 beat 128 on all four synthetic presets (docs/comparison.md). The tower
  is `identity_linear` for every method (step 0 is the raw features; the
  contrastive mode's preset default, and above the papers' towers with CDML and
  GCML on the presets measured, docs/comparison.md).

  Args:
    c: the demo's config.
    method: a METHODS key (the model folder's name).
    kind: the examples' kind.
    mode: the trainer mode.
    validation: the validation examples' folder (model selection).
    read_inputs: read the modalities from the inputs (as `train.config_from_values`).

  Returns:
    The `TrainConfig` that `trainer.train` runs.
  """
  from launch import train
  prefix = "examples" if kind == "labels" else "triplets"
  data = os.path.join(c.output_dir, "examples", kind, f"{prefix}-*.tfrecord")
  return train.config_from_values("demo", dict(
      mode=mode, train_data=data, model_dir=os.path.join(c.output_dir, "train", method),
      train_steps=c.train_steps, seed=c.seed, validation_data=validation,
      validate_every=max(1, c.train_steps // 8), tower=DEMO_TOWER), read_inputs=read_inputs)


def _train_method(c: DemoConfig, method: str) -> str:
  from model import trainer
  kind, mode = METHODS[method]
  config = train_config(c, method, kind, mode, os.path.join(c.output_dir, "examples",
                                                             "validation"))
  v = trainer.train(config).validation
  return (f"{method} best validation MAP@60 {v['best']:.4f} at step {v['best_step']} "
          f"(raw {v['raw']:.4f})")


def _train(c: DemoConfig) -> str:
  return f"{c.train_steps} steps each: " + ", ".join(
      _each("train", _train_method, c, c.method_names()))


def _export_method(c: DemoConfig, method: str) -> None:
  from pipelines.export import stage as export
  data = os.path.join(c.output_dir, "data")
  export.run_config(export.ExportConfig(
      os.path.join(c.output_dir, "train", method), f"{data}/features-*.tfrecord",
      os.path.join(c.output_dir, "export", method), top_k=60, engine=c.engine),
      c.pipeline_args())


def _export(c: DemoConfig) -> str:
  _each("export", _export_method, c, c.method_names())
  return f"embeddings and related-items top-60 for {', '.join(c.method_names())}"


def _evaluate(c: DemoConfig) -> str:
  from pipelines.evaluation import stage as evaluate
  data = os.path.join(c.output_dir, "data")
  # The first evaluation also reads every run's training summaries (usage-ratio
  # curves, margin table), so they are plotted side by side.
  runs = {m.upper(): os.path.join(c.output_dir, "train", m) for m in c.method_names()}
  # One call: the features and edges are read, and raw features scored, once for all.
  evaluate.run_configs([evaluate.EvaluateConfig(
      f"{os.path.join(c.output_dir, 'export', method)}/embeddings-*", f"{data}/edges-*.csv",
      f"{data}/features-*.tfrecord", os.path.join(c.output_dir, "evaluate", method),
      model_dir=runs if i == 0 else None) for i, method in enumerate(c.method_names())])
  return ("retrieval MAP@60 and NDCG@60 on the cold-start split, learned vs raw features; "
          "training curves")


STAGES = [Stage("synth", _synth), Stage("validate", _validate), Stage("cluster", _cluster),
          Stage("examples", _examples), Stage("train", _train), Stage("export", _export),
          Stage("evaluate", _evaluate)]


def _run_quietly(stage: Stage, config: DemoConfig) -> str:
  """Runs a stage with its prints, logs and native output in `OUTPUT/logs/<stage>.log`."""
  with demo_jobs.quiet(os.path.join(config.output_dir, "logs", f"{stage.name}.log")):
    return stage.run(config)


def _cpu_seconds() -> float:
  """CPU seconds of this process and of its children that have ended."""
  children = resource.getrusage(resource.RUSAGE_CHILDREN)
  return time.process_time() + children.ru_utime + children.ru_stime


def parse_args(argv) -> DemoConfig:
  """Parses `gcml demo`'s flags into its config.

  Args:
    argv: the flags after `gcml demo`.

  Returns:
    The DemoConfig.
  """
  parser = config_flags.stage_parser("gcml demo", __doc__, DemoConfig)
  return config_flags.config_from_args(DemoConfig, runner.parse_flags(parser, argv))


def main(argv: list[str]) -> int:
  """`gcml demo`: the whole flow, then the report.

  Args:
    argv: the flags after `gcml demo`.

  Returns:
    The exit status (0).
  """
  logs.setup(level=logging.WARNING)  # the demo prints its own lines; stages log to logs/
  config = parse_args(argv)
  for name in [s.name for s in STAGES] + ["data", "report"]:  # a rerun replaces results
    shutil.rmtree(os.path.join(config.output_dir, name), ignore_errors=True)
  start, times = time.time(), {}
  for i, stage in enumerate(STAGES, 1):
    t, cpu = time.time(), _cpu_seconds()  # every thread of this process, and its children
    print(f"[{i}/{len(STAGES)}] {stage.name} ...", flush=True)
    result = _run_quietly(stage, config)
    times[stage.name] = time.time() - t
    print(f"[{i}/{len(STAGES)}] {stage.name}: {result} ({times[stage.name]:.1f}s, "
          f"{_cpu_seconds() - cpu:.1f} CPU-s)", flush=True)
  rows = demo_report.collect(os.path.join(config.output_dir, "evaluate"), config.method_names())
  paragraph = demo_report.reading(rows, PRIMARY, os.path.join(config.output_dir, "train"))
  path = demo_report.write_report(
      os.path.join(config.output_dir, "report"), rows, times, paragraph,
      training_dir=os.path.join(config.output_dir, "evaluate", config.method_names()[0]),
      train_dir=os.path.join(config.output_dir, "train"))
  print(f"demo: done in {time.time() - start:.1f}s; report: {os.path.abspath(path)}")
  print(paragraph)
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("demo", sys.argv[1:]))
