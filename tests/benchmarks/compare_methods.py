"""The methods of `gcml bench compare` and one seed's run of them on one world.

A method is an entry of METHODS: the training examples it reads (the flags
of `gcml examples`) and the `gcml train` flags it sets on top of the shared
ones (demo preset, equal steps x batch). Methods that read the same examples
share one examples run. A method name may end in `:nomine`: the same method
trained with `--mining=none` (no in-batch semi-hard mining).

One world = one `(preset, seed)`: synth and cluster as subprocesses, examples
and training in this process; every model is scored on the cold-start test
items as `gcml evaluate` scores embeddings (MAP@60, NDCG@60, the same raw
baseline), and with `annotation_steps` on annotation (compare_annotation.py).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time

import numpy as np

from tests.benchmarks import compare_annotation, compare_frames, compare_identity

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_MINING = ":nomine"
# The papers' towers unless a method names its tower or --tower overrides it (the `demo`
# preset's contrastive mode trains the identity tower; the methods keep their meaning).
PAPERS_TOWER = {"tower": "mlp"}

# name -> {"examples": gcml examples flags, "train": gcml train flags}; keep it a dict.
METHODS = {
    "cdml": {"examples": {"kind": "random"}, "train": {"mode": "triplet"}},
    "gcml_l0": {"examples": {"kind": "smart", "level": 0}, "train": {"mode": "triplet"}},
    # L1 / L2 / curriculum read one --all_levels set; --level_schedule=L keeps level L's.
    "gcml_l1": {"examples": {"kind": "smart", "all_levels": True},
                "train": {"mode": "triplet", "level_schedule": "1"}},
    "gcml_l2": {"examples": {"kind": "smart", "all_levels": True},
                "train": {"mode": "triplet", "level_schedule": "2"}},
    "mixed": {"examples": {"kind": "smart", "level": 0, "random_fraction": 0.5},
              "train": {"mode": "triplet"}},
    "curriculum": {"examples": {"kind": "smart", "all_levels": True},
                   "train": {"mode": "triplet", "level_schedule": "2,1,0"}},
    "clc": {"examples": {"kind": "labels", "level": 0}, "train": {"mode": "clc"}},
    # In-batch softmax over graph pairs; with L0 (or L1) pseudo-labels: same-cluster
    # negatives masked, then 2 positives per anchor from its L0 cluster (docs/contrastive.md).
    "contrastive": {"examples": {"kind": "smart", "level": 0}, "train": {"mode": "contrastive"}},
    **compare_frames.FRAME_METHODS,  # frame-level, with and without pre-training (issue 18)
    "contrastive_masked": {"examples": {"kind": "smart", "level": 0, "cluster_id_level": 0},
                           "train": {"mode": "contrastive", "cluster_masking": True}},
    "contrastive_masked_cpos": {
        "examples": {"kind": "smart", "level": 0, "cluster_id_level": 0, "cluster_positives": 2},
        "train": {"mode": "contrastive", "cluster_masking": True}},
    "contrastive_masked_l1": {"examples": {"kind": "smart", "level": 0, "cluster_id_level": 1},
                              "train": {"mode": "contrastive", "cluster_masking": True}},
    **compare_identity.IDENTITY_METHODS,  # identity-started tower (compare_identity.py)
}


def split_name(name: str) -> tuple[str, str]:
  """'cdml:nomine' -> ('cdml', 'none'); 'cdml' -> ('cdml', 'semihard')."""
  if name.endswith(NO_MINING):
    return name[:-len(NO_MINING)], "none"
  return name, "semihard"


def train_flags(base: str, model_flags: dict) -> dict:
  """The `gcml train` flags of method `base` (the papers' towers unless it names one)."""
  return {**PAPERS_TOWER, **METHODS[base]["train"], **model_flags}


def check_methods(names: list[str]) -> None:
  """Raises ValueError naming an unknown method."""
  for name in names:
    base, _ = split_name(name)
    if base != "raw" and base not in METHODS:
      raise ValueError(f"unknown method {name!r}; known: raw, {', '.join(METHODS)} "
                       f"(each may end in {NO_MINING})")


def _gcml(module: str, args: list[str], log: str) -> None:
  with open(log, "ab") as f:
    f.write(f"\n$ gcml {module} {' '.join(args)}\n".encode())
    f.flush()
    subprocess.run([sys.executable, "-m", f"launch.{module}", *args], check=True, cwd=REPO,
                   stdout=f, stderr=subprocess.STDOUT)


def _examples_key(flags: dict) -> str:
  """A folder name for one examples run, e.g. smart-level0-random_fraction0.5."""
  return "-".join([flags["kind"]] + [f"{k}{v}" for k, v in sorted(flags.items())
                                     if k != "kind" and v is not False])


class World:
  """One synthetic world (preset, seed), its clusters and its validation items.

  Args:
    root: the world's folder (reused: finished stages are not run again).
    preset: a `gcml synth` preset.
    seed: the world's, the pipelines' and the trainings' seed.
    num_items: items (0: the preset's own number).
    num_triplets: the cap on every triplet set.
    clusters: `affinity` (`gcml cluster` on the edges, the real pipeline) or `truth`
      (the planted micro-clusters, subtopics and topics as the tables).
  """

  def __init__(self, root: str, preset: str, seed: int, num_items: int, num_triplets: int,
               clusters: str = "affinity"):
    self.root, self.preset, self.seed = root, preset, seed
    self.num_triplets = num_triplets
    self.log = os.path.join(root, "log.txt")
    self.data = os.path.join(root, "data")
    self.clusters = os.path.join(root, "clusters" if clusters == "affinity" else "clusters_truth")
    self.validation = os.path.join(root, "validation")
    os.makedirs(root, exist_ok=True)
    if not os.path.exists(os.path.join(self.data, "synth.json")):
      _gcml("synth", [f"--output_dir={self.data}", f"--preset={preset}", f"--seed={seed}",
                      *([f"--num_items={num_items}"] if num_items else [])], self.log)
    if clusters == "truth" and not os.path.isdir(self.clusters):
      from tests.pipelines.examples import worlds  # pylint: disable=import-outside-toplevel
      worlds.tables_from_synth(self.data, self.clusters)
    elif not os.path.exists(os.path.join(self.clusters, "summary.json")):
      _gcml("cluster", [f"--edges={self.data}/edges-*.csv", f"--output_dir={self.clusters}",
                        "--engine=local", f"--seed={seed}"], self.log)
    self.modalities = _modalities(self.data)
    self._data_flags = [f"--edges={self.data}/edges-*.csv",
                        f"--features={self.data}/features-*.tfrecord",
                        f"--modalities={self.modalities_flag}"]
    if not os.path.exists(os.path.join(self.validation, "summary.json")):
      self._examples(["--kind=validation", f"--output_dir={self.validation}"])

  @property
  def modalities_flag(self) -> str:
    return ",".join(f"{n}:{d}" for n, d in self.modalities)

  def _examples(self, flags: list[str]) -> None:
    from pipelines.examples import stage as make_examples  # pylint: disable=import-outside-toplevel
    argv = [*flags, *self._data_flags, "--num_shards=2", "--runner=FnApiRunner"]
    with open(self.log, "a", encoding="utf-8") as f:
      f.write(f"\n$ gcml examples {' '.join(argv)}\n")
    make_examples.run(argv)

  def examples(self, flags: dict) -> str:
    """The TFRecord glob of the examples `flags` describe (made on first use)."""
    out = os.path.join(self.root, "examples", _examples_key(flags))
    if not os.path.exists(os.path.join(out, "summary.json")):
      argv = [f"--{k}={v}" for k, v in flags.items() if not isinstance(v, bool)]
      argv += [f"--{k}" for k, v in flags.items() if v is True]
      if flags["kind"] != "labels":
        argv.append(f"--num_triplets={self.num_triplets}")
      if flags["kind"] != "random":
        argv.append(f"--clusters={self.clusters}")
      self._examples([*argv, f"--output_dir={out}", f"--seed={self.seed}"])
    prefix = "examples" if flags["kind"] == "labels" else "triplets"
    return f"{out}/{prefix}-*.tfrecord"

  def negative_shares(self, flags: dict) -> dict:
    """Where the negatives of a triplet set sit in the planted hierarchy, per level.

    Returns:
      {level: {"triplets", "same_topic", "same_subtopic", "same_micro",
      "joined_by_edge"}}, level -1 for random negatives ("all": every triplet).
    """
    path = os.path.join(self.root, "examples", _examples_key(flags), "negatives.json")
    if not os.path.exists(path):
      with open(path, "w", encoding="utf-8") as f:
        json.dump(negative_truth(self.examples(flags), self.data), f)
    with open(path, encoding="utf-8") as f:
      return json.load(f)


def negative_truth(triplets: str, world: str) -> dict:
  """Shares of negatives in the anchor's planted topic / subtopic / micro-cluster, or linked."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from tests.pipelines.examples import worlds  # pylint: disable=import-outside-toplevel
  truth = worlds.synth_hierarchy(world)
  edges = set()
  for path in sorted(glob.glob(f"{world}/edges-*.csv")):
    with open(path, encoding="utf-8") as f:
      for line in f.read().splitlines()[1:]:
        a, b = line.split(",")[:2]
        edges.add((a, b) if a < b else (b, a))
  spec = {f"{r}/id": tf.io.FixedLenFeature([], tf.string) for r in ("anchor", "negative")}
  spec["level"] = tf.io.FixedLenFeature([], tf.int64, default_value=-1)
  counts: dict = {}
  for batch in tf.data.TFRecordDataset(sorted(glob.glob(triplets))).batch(8192):
    parsed = tf.io.parse_example(batch, spec)
    for a, b, lv in zip(parsed["anchor/id"].numpy(), parsed["negative/id"].numpy(),
                        parsed["level"].numpy()):
      a, b = a.decode(), b.decode()
      ta, tb = truth[a], truth[b]  # (micro, subtopic, topic)
      row = [1, ta[2] == tb[2], ta[1] == tb[1], ta[0] == tb[0],
             ((a, b) if a < b else (b, a)) in edges]
      for key in (str(int(lv)), "all"):
        counts[key] = [x + y for x, y in zip(counts.get(key, [0] * 5), row)]
  names = ("same_topic", "same_subtopic", "same_micro", "joined_by_edge")
  return {k: {"triplets": c[0], **{n: round(v / c[0], 4) for n, v in zip(names, c[1:])}}
          for k, c in sorted(counts.items())}


def _modalities(world: str) -> list[tuple[str, int]]:
  with open(os.path.join(world, "synth.json"), encoding="utf-8") as f:
    declared = json.load(f).get("config", {}).get("modalities",
                                                  [("mean_rgb", 1024), ("mean_audio", 128)])
  if isinstance(declared, str):
    declared = [m.split(":") for m in declared.split(",")]
  return [(n, int(d)) for n, d in declared]


def run_world(world: World, methods: list[str], train_steps: int, batch_size: int,
              validate_every: int, model_flags: dict, annotation_steps: int = 0) -> dict:
  """Trains and scores every method on one world.

  Args:
    world: the World.
    methods: names (METHODS keys, `raw`, optionally with `:nomine`).
    train_steps, batch_size: the same budget for every method.
    validate_every: steps between validations (model selection; 0: the last step).
    model_flags: `gcml train` flags every method shares (e.g. tower, input_norm).
    annotation_steps: > 0: also the annotation metrics of every method and of raw
      features, with a classifier trained this many steps (compare_annotation.py).

  Returns:
    {"raw": scores, "methods": {name: scores + best_step, curve, seconds}}.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from model import metrics, trainer  # pylint: disable=import-outside-toplevel
  from launch import bench  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel
  from tests.benchmarks import bench_towers  # pylint: disable=import-outside-toplevel
  items, edges = bench_towers.test_items(world.data, world.modalities)
  def raw(some):  # the baseline: each modality L2-normalised, concatenated
    return {i: np.concatenate([metrics.normalize_rows(f[n][None, :])[0]
                               for n, _ in world.modalities]) for i, f in some.items()}
  out = {"raw": bench_towers.score(raw(items), edges), "methods": {}}
  if annotation_steps:  # every item's vectors: the classifier trains on the train items
    everything, labels = compare_annotation.all_items(world.data, world.modalities)
    out["raw"]["annotation"] = compare_annotation.annotation_scores(
        raw(everything), labels, annotation_steps, world.seed)
  for name in methods:
    base, mining = split_name(name)
    if base == "raw":
      continue
    start = time.time()
    spec = METHODS[base]
    if spec.get("frames"):  # scored on the pre-training alone (compare_frames.py)
      out["methods"][name] = compare_frames.score_pretrained(
          world, _gcml, base, items, edges, train_steps, batch_size, model_flags)
      if annotation_steps:
        out["methods"][name]["annotation"] = compare_annotation.annotation_scores(
            compare_frames.pretrained_vectors(world, _gcml, base, everything, train_steps,
                                              batch_size, model_flags),
            labels, annotation_steps, world.seed)
      out["methods"][name]["seconds"] = round(time.time() - start, 1)
      print(f"{world.preset} seed {world.seed} {name}: MAP@60 "
            f"{out['methods'][name]['map@60']:.4f}", file=sys.stderr, flush=True)
      continue
    init = ({"init_from": os.path.dirname(compare_frames.pretrain(
        world, _gcml, train_steps, batch_size, model_flags).export_dir)}
            if spec.get("pretrain") else {})
    data = world.examples(spec["examples"])
    selection = ({"validation_data": world.validation, "validate_every": validate_every}
                 if validate_every else {})
    # one folder per budget, validation interval, network and clusters: a model_dir with a
    # later checkpoint would be resumed, not trained
    run = "-".join([f"s{train_steps}", f"b{batch_size}", f"v{validate_every}",
                    os.path.basename(world.clusters),
                    *(f"{k}_{v}" for k, v in sorted(model_flags.items()))])
    model_dir = os.path.join(world.root, "models", run, name.replace(":", "-"))
    tf.keras.backend.clear_session()
    cfg = TrainConfig.from_flags(
        preset="demo", train_data=data, modalities=world.modalities_flag, model_dir=model_dir,
        train_steps=train_steps, batch_size=batch_size, seed=world.seed, deterministic=True,
        checkpoint_every=train_steps, **({"mining": mining} if spec["train"]["mode"] ==
                                         "triplet" else {}),
        **train_flags(base, model_flags), **selection, **init)
    result = trainer.train(cfg)
    bench.require_finished(result, f"{world.preset} seed {world.seed} {name}")
    scores = bench_towers.score(bench_towers.embed(result.model, items, world.modalities), edges)
    scores["best_step"] = result.validation.get("best_step", train_steps)
    if annotation_steps:
      scores["annotation"] = compare_annotation.annotation_scores(
          bench_towers.embed(result.model, everything, world.modalities), labels,
          annotation_steps, world.seed)
    state = os.path.join(model_dir, "validation.json")
    if os.path.exists(state):
      with open(state, encoding="utf-8") as f:
        saved = json.load(f)
      scores["validation_curve"] = saved["history"]
      scores["validation_raw"] = saved["raw"]
    scores["seconds"] = round(time.time() - start, 1)
    out["methods"][name] = scores
    print(f"{world.preset} seed {world.seed} {name}: MAP@60 {scores['map@60']:.4f} "
          f"(raw {out['raw']['map@60']:.4f}, step {scores['best_step']}, "
          f"{scores['seconds']:.0f}s)", file=sys.stderr, flush=True)
  return out
