"""`gcml bench pipeline`: the whole flow on one machine, per stage, per engine.

1. `gcml synth` writes a world of `--num_items` items (mean degree 20: about
   10 edge lines per item, 10M at the default 1M items).
2. For each engine of `--engines` (`local`, `beam`), every stage runs in its
   own child process through the CLI (`python -m launch.main STAGE ...`, what
   `gcml STAGE` runs): validate, cluster, examples (smart, random, labels),
   export and evaluate. `--engine=ENGINE` goes to each of them; Beam stages get
   `--runner`. Train has no engine and is not bit-deterministic, so it runs once
   per world: a short `gcml train` (`--train_steps`) on the first engine's smart
   triplets, into `OUTPUT/train`, after that engine's examples; every engine
   exports (and then evaluates) that one model.
3. Per stage: wall seconds, CPU seconds (user + system) and peak RSS of that
   child alone, from `os.wait4` (what `/usr/bin/time -v` reports). Synth and
   train ran once for all engines: the table shows them once, in the first
   engine's columns, and the engines' totals leave them out.
4. Every engine stage's outputs (validate, cluster, examples, export,
   evaluate) are compared file by file across engines (they must be
   byte-identical); the JSON's `identical_outputs` says which are.
5. `--beam_items=N`: the Beam engine at 1M items takes hours on the local
   runners, so Beam runs instead on a world of N items made by `gcml synth`
   with the full world's settings (only the item count differs), and local runs
   again on it: the sample table, byte equality and the local/Beam ratios
   (examples triplets per second and per CPU-second, CPU s per stage) come
   from that pair: both engines on one world in one run (the headline).
6. The children cache their bytecode, as a user's Python does: where
   PYTHONDONTWRITEBYTECODE is set (these sessions set it), it is dropped for
   them and PYTHONPYCACHEPREFIX points at `pycache` beside the log, so no stage pays for
   compiling gcml's modules on every start (about 0.07 CPU-s a process).

Prints the tables, the headline and a JSON dict with every figure.
"""

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE_STAGES = ("validate", "cluster", "examples_smart", "examples_random", "examples_labels",
                 "train", "export", "evaluate")
COMPARED = ("validate", "cluster", "examples_smart", "examples_random", "examples_labels",
            "export", "evaluate")
ONCE_PER_WORLD = ("synth", "train")  # no engine: run once, shown in the first engine's columns
TRIPLET_STAGES = ("examples_smart", "examples_random")


def run_measured(args: list, log: str) -> dict:
  """Runs `python -m launch.main ARGS` as a child; its own seconds, CPU and peak RSS.

  Args:
    args: the subcommand and its flags.
    log: file that receives the child's stdout and stderr.

  Returns:
    {"seconds", "cpu_seconds", "peak_mib"}; raises RuntimeError on a failure.
  """
  with open(log, "ab") as f:
    f.write(f"\n$ gcml {' '.join(args)}\n".encode())
    f.flush()
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:  # cache bytecode, as users do
      env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(os.path.dirname(log), "pycache"))
    started = time.time()
    child = subprocess.Popen([sys.executable, "-m", "launch.main", *args], cwd=REPO, env=env,
                             stdout=f, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.time() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
  if child.returncode != 0:
    raise RuntimeError(f"gcml {args[0]} exited {child.returncode}; see {log}")
  return {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
          "peak_mib": round(usage.ru_maxrss / 1024)}


def stage_commands(engine: str, world: str, out: str, model_dir: str, a) -> dict:
  """The CLI arguments of every stage of one engine's run, in order.

  Args:
    engine: `local` or `beam`.
    world: the synth world's folder.
    out: this engine's output folder (one subfolder per stage).
    model_dir: the world's one model: train writes it, export reads it.
    a: the parsed flags (modalities, runner, train steps).

  Returns:
    {stage name: argument list}, in ENGINE_STAGES order.
  """
  edges, features = f"--edges={world}/edges-*.csv", f"--features={world}/features-*.tfrecord"
  beam = [f"--engine={engine}"] + ([f"--runner={a.runner}"] if engine == "beam" else [])
  modalities = f"--modalities={a.modalities}"
  commands = {
      "validate": ["validate", edges, features, modalities, f"--output_dir={out}/validate",
                   *beam],
      "cluster": ["cluster", edges, f"--output_dir={out}/cluster", *beam]}
  for kind in ("smart", "random", "labels"):
    commands[f"examples_{kind}"] = [
        "examples", f"--kind={kind}", "--level=0", edges, features, modalities,
        f"--clusters={out}/cluster", f"--output_dir={out}/examples/{kind}", *beam]
  commands["train"] = ["train", "--preset=demo", "--mode=triplet", f"--seed={a.seed}",
                       f"--train_data={out}/examples/smart/triplets-*.tfrecord",
                       f"--train_steps={a.train_steps}", f"--model_dir={model_dir}"]
  commands["export"] = ["export", f"--model_dir={model_dir}", features,
                        f"--output_dir={out}/export", f"--search={a.export_search}", *beam]
  commands["evaluate"] = ["evaluate", f"--embeddings={out}/export/embeddings-*", edges, features,
                          f"--output_dir={out}/evaluate", f"--search={a.evaluate_search}", *beam]
  return commands


def folder_digest(folder: str, run_root: str) -> str:
  """SHA-256 over every file's relative path and bytes, in path order.

  Args:
    folder: a stage's output folder.
    run_root: the engine's output folder; the JSON files (summary.json,
      evaluate's metrics.json) name input folders under it (e.g.
      `clusters_dir`, `embeddings`), so it reads as `<run>` in them.

  Returns:
    The hex digest.
  """
  digest = hashlib.sha256()
  for path in sorted(glob.glob(f"{folder}/**", recursive=True)):
    if os.path.isfile(path):
      digest.update(os.path.relpath(path, folder).encode())
      with open(path, "rb") as f:  # in chunks: the stages fork from this process, at its size
        if path.endswith(".json"):
          digest.update(f.read().replace(run_root.encode(), b"<run>"))
        for chunk in iter(lambda: f.read(1 << 20), b""):  # pylint: disable=cell-var-from-loop
          digest.update(chunk)
  return digest.hexdigest()


def _stage_folder(out: str, stage: str) -> str:
  return os.path.join(out, *stage.split("_", 1)) if stage.startswith("examples") else \
      os.path.join(out, stage)


def triplets_written(out: str) -> int:
  """Triplets of the smart and random runs, from their summary.json."""
  total = 0
  for stage in TRIPLET_STAGES:
    with open(os.path.join(_stage_folder(out, stage), "summary.json"), encoding="utf-8") as f:
      total += json.load(f)["examples"].get("triplets/total", 0)
  return total


def table(result: dict) -> str:
  """The side-by-side text table: stage | ENGINE s | ENGINE CPU s | ENGINE peak MiB ...

  Synth and train ran once for all engines: their rows have figures in the
  first engine's columns only, and the totals are the engine stages'.
  """
  engines = list(result["engines"])
  head = ["stage"] + [f"{e} {c}" for e in engines for c in ("s", "CPU s", "peak MiB")]
  rows = [head, ["---"] * len(head)]
  for stage in ("synth",) + ENGINE_STAGES:
    once = stage in ONCE_PER_WORLD
    row = [f"{stage} (once, all engines)" if once and len(engines) > 1 else stage]
    for e in engines:
      m = (result.get(stage) if e == engines[0] else None) if once else \
          result["engines"][e]["stages"].get(stage)
      row += [str(m[k]) for k in ("seconds", "cpu_seconds", "peak_mib")] if m else ["-"] * 3
    rows.append(row)
  for label, key in (("total (engine stages)", "total"),
                     ("examples triplets/s", "triplets_per_second"),
                     ("examples triplets/CPU-s", "triplets_per_cpu_second")):
    row = [label]
    for e in engines:
      value = result["engines"][e].get(key)
      row += ([str(value["seconds"]), str(value["cpu_seconds"]), str(value["peak_mib"])]
              if key == "total" else [str(value), "", ""])
    rows.append(row)
  return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def _synth_flags(config: dict, num_items: int) -> list:
  """`gcml synth` flags remaking a world of `config` (synth.json's) with num_items items."""
  flags = []
  for key, value in sorted(dict(config, num_items=num_items).items()):
    if key == "modalities":
      value = ",".join(f"{n}:{d}" for n, d in value)
    elif isinstance(value, bool):
      flags.append(f"--{'' if value else 'no-'}{key}")
      continue
    elif isinstance(value, (list, tuple)):
      value = ",".join(map(str, value))
    flags.append(f"--{key}={value}")
  return flags


def _compare(local: dict, beam: dict) -> dict:
  """Byte equality, CPU-s Beam/local per stage, examples' local/Beam rates, on one world."""
  out = {"identical_outputs": {s: local["digests"][s] == beam["digests"][s]
                               for s in local["digests"] if s in beam["digests"]},
         "cpu_beam_over_local": {
             s: round(beam["stages"][s]["cpu_seconds"] / max(0.01, m["cpu_seconds"]), 1)
             for s, m in local["stages"].items() if s in beam["stages"]}}
  if "triplets_per_second" in local and "triplets_per_second" in beam:
    ratio = out["examples_local_over_beam"] = {
        "wall": round(local["triplets_per_second"] / beam["triplets_per_second"], 1),
        "cpu": round(local["triplets_per_cpu_second"] / beam["triplets_per_cpu_second"], 1)}
    lc, bc = local["triplets_per_cpu_second"], beam["triplets_per_cpu_second"]  # like for like
    out["headline"] = (f"local / Beam {ratio['cpu']}x in triplets per CPU-second ({lc:,.0f} vs "
                       f"{bc:,.0f}), {ratio['wall']}x per second")
  return out


def run_engine(engine: str, world: str, root: str, a, log: str, once: dict) -> dict:
  """Runs every stage on one engine.

  Args:
    engine: `local` or `beam`.
    world: the synth world's folder.
    root: the benchmark's folder (this engine writes under root/engine, the
      world's model is root/train).
    a: the parsed flags.
    log: the stages' log file.
    once: the world's once-run stages' measures: the first engine to reach
      train runs it and adds "train"; the others export that model.

  Returns:
    {"stages": {stage: measures}, "total", "triplets", "triplets_per_second",
    "triplets_per_cpu_second", "digests": {compared stage: digest}}.
  """
  out = os.path.join(root, engine)
  stages = {}
  for stage, args in stage_commands(engine, world, out, os.path.join(root, "train"), a).items():
    if stage in a.skip_stages or (stage in ONCE_PER_WORLD and stage in once):
      continue
    measures = run_measured(args, log)
    print(f"{engine} {stage}: {measures}", file=sys.stderr, flush=True)
    (once if stage in ONCE_PER_WORLD else stages)[stage] = measures
  result = {"stages": stages, "total": {
      "seconds": round(sum(s["seconds"] for s in stages.values()), 1),
      "cpu_seconds": round(sum(s["cpu_seconds"] for s in stages.values()), 1),
      "peak_mib": max((s["peak_mib"] for s in stages.values()), default=0)}}
  if all(s in stages for s in TRIPLET_STAGES):
    triplets = triplets_written(out)
    result["triplets"] = triplets
    result["triplets_per_second"] = round(
        triplets / sum(stages[s]["seconds"] for s in TRIPLET_STAGES), 1)
    result["triplets_per_cpu_second"] = round(
        triplets / max(0.01, sum(stages[s]["cpu_seconds"] for s in TRIPLET_STAGES)), 1)
  result["digests"] = {s: folder_digest(_stage_folder(out, s), out) for s in COMPARED if s in stages}
  return result


def main(argv: list) -> dict:
  """`gcml bench pipeline [flags]`: prints the table and the JSON, returns the dict."""
  p = argparse.ArgumentParser(prog="gcml bench pipeline")
  p.add_argument("--num_items", type=int, default=1_000_000)
  p.add_argument("--mean_degree", type=float, default=20.0, help="edge lines = items * this / 2")
  p.add_argument("--modalities", default="mean_rgb:64,mean_audio:16",
                 help="smaller than production (1024+128) to keep the world on disk small")
  p.add_argument("--engines", default="local,beam", help="comma-separated: local, beam")
  p.add_argument("--train_steps", type=int, default=50)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--export_search", default="ivfflat", choices=("exact", "ivfflat", "ivfpq"),
                 help="export's related-items search (ivfflat: the choice at 1M items, "
                      "docs/export_and_evaluation.md)")
  p.add_argument("--evaluate_search", default="ivfflat", choices=("exact", "ivfflat", "ivfpq"),
                 help="evaluate's candidate search (ivfflat: each query's top 61 from an IVF "
                      "index, re-ranked exactly; exact: every pair, hours at 1M items)")
  p.add_argument("--runner", default="FnApiRunner", help="Beam runner of the beam engine")
  p.add_argument("--beam_items", type=int, default=0,
                 help="run the beam engine (and local again) on a synth world of this many "
                      "items with the full world's settings; 0: on the full world")
  p.add_argument("--skip_stages", default="", help="comma-separated stage names not to run")
  p.add_argument("--output_dir", default="", help="default: a new temporary folder, kept")
  p.add_argument("--world", default="", help="an existing `gcml synth` folder to use instead "
                 "of a new world (its own items, degree and modalities)")
  a = p.parse_args(argv)
  a.skip_stages = {s.strip() for s in a.skip_stages.split(",") if s.strip()}
  root = a.output_dir or tempfile.mkdtemp(prefix="gcml-bench-pipeline-")
  os.makedirs(root, exist_ok=True)
  log, world = os.path.join(root, "log.txt"), a.world or os.path.join(root, "world")
  result = {"benchmark": "pipeline", "items": a.num_items, "mean_degree": a.mean_degree,
            "modalities": a.modalities, "train_steps": a.train_steps, "runner": a.runner,
            "cores": os.cpu_count(), "load_average_before": os.getloadavg(), "output_dir": root,
            "log": log}
  result["synth"] = None if a.world else run_measured(
      ["synth", f"--output_dir={world}", f"--num_items={a.num_items}", f"--seed={a.seed}",
       f"--mean_degree={a.mean_degree}", f"--modalities={a.modalities}"], log)
  if a.world:  # its own size and modalities
    with open(os.path.join(world, "synth.json"), encoding="utf-8") as f:
      config = json.load(f)["config"]
    result.update(world=world, items=config["num_items"], mean_degree=config["mean_degree"])
    a.modalities = result["modalities"] = ",".join(f"{n}:{d}" for n, d in config["modalities"])
  result["edge_lines"] = sum(1 for path in glob.glob(f"{world}/edges-*.csv")
                             for _ in open(path, "rb"))  # pylint: disable=consider-using-with
  engines = [e.strip() for e in a.engines.split(",") if e.strip()]
  sampled = a.beam_items > 0 and "beam" in engines
  result["engines"] = {e: run_engine(e, world, root, a, log, result) for e in engines
                       if not (sampled and e == "beam")}
  pair = result["engines"]
  if sampled:  # Beam on a smaller world of the same settings, local again on it
    with open(os.path.join(world, "synth.json"), encoding="utf-8") as f:
      config = json.load(f)["config"]
    sample_root = os.path.join(root, "sample")
    sample_world = os.path.join(sample_root, "world")
    sample = result["sample"] = {"items": a.beam_items, "world": sample_world}
    sample["synth"] = run_measured(["synth", f"--output_dir={sample_world}",
                                    *_synth_flags(config, a.beam_items)], log)
    pair = sample["engines"] = {e: run_engine(e, sample_world, sample_root, a, log, sample)
                                for e in ("local", "beam")}
  if "local" in pair and "beam" in pair:
    result.update(_compare(pair["local"], pair["beam"]))
  result["load_average_after"] = os.getloadavg()
  result["table"] = table(result)
  print(result["table"])
  if sampled:
    result["sample"]["table"] = table(result["sample"])
    print(f"\nBeam and local on {a.beam_items} items of the same settings:")
    print(result["sample"]["table"])
  if "identical_outputs" in result:
    same = result["identical_outputs"]
    print(f"\nbyte-identical across the engines: {', '.join(s for s in same if same[s]) or '-'}; "
          f"different: {', '.join(s for s in same if not same[s]) or '-'}")
  if "headline" in result:
    print(f"\nexamples (smart + random), both engines on one world: {result['headline']}")
  print(json.dumps(result, indent=2))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
