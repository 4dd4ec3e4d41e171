"""`gcml bench compare`: the papers' comparison, over synth presets and seeds.

For every preset (`--presets`, `gcml synth --preset`) and seed 0..N-1
(`--seeds`), a fresh world: `gcml synth`, `gcml cluster --engine=local`, the
validation items, the examples each method reads, and one training per
method at the same budget (`--train_steps` x `--batch_size` examples seen),
with model selection on the validation items when `--validate_every` > 0.
Each model is scored on the cold-start test items (MAP@60 as the GCML paper
defines it, NDCG@60) beside the raw content features (`raw`).

Methods (`--methods`, see compare_methods.METHODS): cdml (random negatives),
gcml_l0/l1/l2 (smart negatives of that level), mixed (smart L0, half the
slots random), curriculum (levels 2, 1, 0 in three phases), clc (cluster
labels). A name ending in `:nomine` trains without in-batch semi-hard
mining; `--mining=semihard,none` adds that variant of every triplet method.

`--batch_sizes=64,128,256,...` adds the papers' batch-size sweep (their
Figure 4) on the first preset for `--sweep_methods`, at equal examples seen
(steps = train_steps x batch_size / b).

Writes report.md, results.json and PNGs (bars per preset; validation MAP@60
against examples seen; the sweep) to `--output_dir`. A world's finished
methods are kept in its results file and not run again (resumable). A world
lives in `<preset>/seed<N>`, with `-items<N>` and `-triplets<N>` added when
`--num_items` or `--num_triplets` differ from their defaults: a run at other
sizes makes its own world instead of reusing one of another size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from pipelines.errors import InputError  # noqa: E402  pylint: disable=wrong-import-position
from tests.benchmarks import compare_methods, compare_report  # noqa: E402  pylint: disable=wrong-import-position

METHODS = compare_methods.METHODS  # re-exported: one dict of methods
DEFAULT_NUM_TRIPLETS = 200_000


def _method_list(a) -> list[str]:
  names = [n for n in a.methods.split(",") if n]
  try:
    compare_methods.check_methods(names)
  except ValueError as e:
    raise InputError(str(e)) from None
  if "none" in a.mining.split(","):
    names += [f"{n}{compare_methods.NO_MINING}" for n in list(names)
              if n in METHODS and METHODS[n]["train"]["mode"] == "triplet"
              and f"{n}{compare_methods.NO_MINING}" not in names]
  if "semihard" not in a.mining.split(","):
    names = [n for n in names if n == "raw" or n.endswith(compare_methods.NO_MINING)
             or METHODS[n]["train"]["mode"] != "triplet"]
  return names


def _triplet(methods: list[str]) -> list[str]:
  """The methods (without :nomine) that read triplets."""
  bases = {compare_methods.split_name(m)[0] for m in methods} - {"raw"}
  return [m for m in METHODS if m in bases and METHODS[m]["examples"] is not None
          and METHODS[m]["examples"]["kind"] != "labels"]


def _negatives(world, methods: list[str]) -> dict:
  """Per triplet method, where its negatives sit in the planted hierarchy."""
  out = {}
  for name in _triplet(methods):
    shares = world.negative_shares(METHODS[name]["examples"])
    schedule = str(METHODS[name]["train"].get("level_schedule", ""))
    out[name] = shares[schedule] if schedule in shares else shares["all"]
  return out


def validate_every_at(a, batch: int) -> int:
  """Steps between validations at `batch`: the same examples seen as at `--batch_size`.

  Args:
    a: the parsed flags.
    batch: the batch size of the runs (the sweep's differ from `--batch_size`).

  Returns:
    The steps (0: no validation).
  """
  return max(1, a.validate_every * a.batch_size // batch) if a.validate_every else 0


def run_tag(a, steps: int, batch: int) -> str:
  """The name of a world's results file: every flag that changes a method's scores.

  Args:
    a: the parsed flags.
    steps: training steps of the runs.
    batch: their batch size.

  Returns:
    E.g. `s800-b128-v100-default-default` (`-truth`, `-ann<N>` when set).
  """
  return (f"s{steps}-b{batch}-v{validate_every_at(a, batch)}-{a.tower or 'default'}-"
          f"{a.input_norm or 'default'}" + ("-truth" if a.clusters == "truth" else "")
          + (f"-ann{a.annotation_steps}" if a.annotation_steps else ""))


def world_items(a, preset: str) -> int:
  """The `--num_items` a preset's worlds get: 0 (the preset's own) where the preset fixes it.

  Args:
    a: the parsed flags.
    preset: the `gcml synth` preset.

  Returns:
    `--num_items`, or 0 for a preset that fixes its size (such as `small`: 3,000).
  """
  from pipelines.synth import presets as synth_presets  # pylint: disable=import-outside-toplevel
  return 0 if "num_items" in synth_presets.PRESETS[preset].fields else a.num_items


def world_folder(a, preset: str, seed: int) -> str:
  """A world's folder under `--output_dir`, named by every flag that changes its data.

  Args:
    a: the parsed flags (`--num_items`, `--num_triplets`).
    preset: the `gcml synth` preset.
    seed: the world's seed.

  Returns:
    E.g. `planted/seed0`, or `planted/seed0-items4000-triplets50000` off the defaults
    (a preset that fixes its size, such as `small`, ignores `--num_items`).
  """
  num_items = world_items(a, preset)
  return os.path.join(preset, f"seed{seed}" + (f"-items{num_items}" if num_items else "")
                      + (f"-triplets{a.num_triplets}"
                         if a.num_triplets != DEFAULT_NUM_TRIPLETS else ""))


def _save(path: str, results: dict) -> None:
  """Writes a results file whole or not at all (a stopped run leaves the previous one)."""
  with open(f"{path}.tmp", "w", encoding="utf-8") as f:
    json.dump(results, f, indent=1)
  os.replace(f"{path}.tmp", path)


def _run_worlds(a, root, preset, methods, steps, batch) -> list[dict]:
  """One result per seed for `preset` (resumed from each world's results file)."""
  tag = run_tag(a, steps, batch)
  model_flags = {k: v for k, v in (("tower", a.tower), ("input_norm", a.input_norm)) if v}
  worlds = []
  for seed in range(a.seeds):
    folder = os.path.join(root, world_folder(a, preset, seed))
    path = os.path.join(folder, f"results-{tag}.json")
    done = {}
    if os.path.exists(path):
      with open(path, encoding="utf-8") as f:
        done = json.load(f)
    if a.report_only:
      if done:
        done["methods"] = {m: done["methods"][m] for m in methods if m in done["methods"]}
        worlds.append(done)
      continue
    world = compare_methods.World(folder, preset, seed, world_items(a, preset), a.num_triplets,
                                  a.clusters)
    todo = [m for m in methods if m != "raw" and m not in done.get("methods", {})]
    for method in (todo or ([] if done else ["raw"])):  # saved after each method
      fresh = compare_methods.run_world(world, [method], steps, batch,
                                        validate_every_at(a, batch), model_flags,
                                        a.annotation_steps)
      done = {**done, "raw": fresh["raw"],
              "methods": {**done.get("methods", {}), **fresh["methods"]}}
      _save(path, done)
    missing = [m for m in _triplet(methods) if m not in done.get("negatives", {})]
    if a.negative_shares and missing:
      done["negatives"] = {**done.get("negatives", {}), **_negatives(world, missing)}
      _save(path, done)
    done["methods"] = {m: done["methods"][m] for m in methods if m in done["methods"]}
    worlds.append(done)
  return worlds


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench compare")
  p.add_argument("--presets", "--preset", default="planted",
                 help="comma-separated gcml synth presets")
  p.add_argument("--seeds", type=int, default=3, help="runs seeds 0..N-1, each a fresh world")
  p.add_argument("--num_items", type=int, default=0,
                 help="0: each preset's own number; a preset that fixes its size (small) keeps it")
  p.add_argument("--train_steps", type=int, default=800)
  p.add_argument("--batch_size", type=int, default=128)
  p.add_argument("--num_triplets", type=int, default=DEFAULT_NUM_TRIPLETS,
                 help="the same cap on every triplet set (CLC: one example per clustered item)")
  p.add_argument("--methods", default="raw,cdml,gcml_l0,gcml_l1,gcml_l2,mixed,curriculum,clc",
                 help=f"comma-separated, from raw, {', '.join(METHODS)}")
  p.add_argument("--mining", default="semihard",
                 help="semihard, none or both (semihard,none): in-batch mining variants")
  p.add_argument("--validate_every", type=int, default=100,
                 help="model selection on the validation items every N steps (0: off, every "
                 "method's last step is scored)")
  p.add_argument("--tower", default="", choices=("", "mlp", "residual", "identity_linear"),
                 help="empty: the trainer's default")
  p.add_argument("--input_norm", default="", choices=("", "none", "l2"),
                 help="empty: the trainer's default")
  p.add_argument("--batch_sizes", default="",
                 help="batch-size sweep at equal examples seen, on the first preset")
  p.add_argument("--sweep_methods", default="cdml,gcml_l0")
  p.add_argument("--clusters", default="affinity", choices=("affinity", "truth"),
                 help="truth: the planted hierarchy as cluster tables (separates the method "
                 "from the clustering)")
  p.add_argument("--negative_shares", type=int, default=1,
                 help="1: report where each triplet set's negatives sit in the planted truth")
  p.add_argument("--annotation_steps", type=int, default=0,
                 help="> 0: also the annotation metrics (GAP@20, ...) of every method and of "
                 "raw features, the classifier trained this many steps")
  p.add_argument("--report_only", action="store_true",
                 help="no runs: the report from the results already in --output_dir")
  p.add_argument("--output_dir", default="")
  a = p.parse_args(argv)
  methods = _method_list(a)
  root = a.output_dir or tempfile.mkdtemp(prefix="gcml-bench-compare-")
  os.makedirs(root, exist_ok=True)
  presets = {name: _run_worlds(a, root, name, methods, a.train_steps, a.batch_size)
             for name in a.presets.split(",")}
  sweep = {}
  examples_seen = a.train_steps * a.batch_size
  for b in [int(x) for x in a.batch_sizes.split(",") if x]:
    steps = max(1, examples_seen // b)
    sweep[str(b)] = _run_worlds(a, root, a.presets.split(",")[0],
                                a.sweep_methods.split(","), steps, b)
  header = (f"# gcml bench compare\n\n`gcml bench compare {' '.join(argv)}`\n\n"
            f"Equal budget: {a.train_steps} steps x batch {a.batch_size} = {examples_seen} "
            f"training examples per method, demo network, at most {a.num_triplets} triplets "
            f"per set; seeds 0..{a.seeds - 1}, each a fresh world, clustering, example set "
            f"and training. Scores: test MAP@60 / NDCG@60 on the cold-start test items; "
            + ("the exported model is the step with the best validation MAP@60 (checked every "
               f"{a.validate_every} steps, step 0 included)." if a.validate_every else
               "the last step is scored."))
  sweep = {b: worlds for b, worlds in sweep.items() if worlds}  # --report_only: those run
  compare_report.write_report(root, header, presets, a.batch_size, sweep)
  result = {"benchmark": "compare", "argv": argv, "presets": presets, "sweep": sweep,
            "summary": {n: compare_report.summarize(w) for n, w in presets.items() if w},
            "report": os.path.join(root, "report.md")}
  _save(os.path.join(root, "results.json"), result)
  print(json.dumps(result["summary"], indent=1))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
