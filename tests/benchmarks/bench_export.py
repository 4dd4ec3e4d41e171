"""`gcml bench export`: the local and Beam export engines on a demo-size world, same bytes.

Generates `--num_items` items (`gcml synth`, the demo's 1024 + 128 feature
dims), exports an untrained demo-size model (hidden 256, embedding 64:
inference costs what a trained one costs), then runs `gcml export` with
`--engine=local` and with the Beam engine (`--runner`, the demo's
DirectRunner by default), top-60 related items, and reports each engine's
seconds and whether every output file has the same bytes.
"""

import argparse
import filecmp
import json
import os
import tempfile
import time

from pipelines.export import stage as export
from pipelines import synth


def _parse(argv):
  p = argparse.ArgumentParser(prog="gcml bench export", description=__doc__.split("\n")[0],
                              allow_abbrev=False)
  p.add_argument("--num_items", type=int, default=20_000)
  p.add_argument("--runner", default="DirectRunner")
  p.add_argument("--search", default="exact", choices=("exact", "ivfflat", "ivfpq"))
  p.add_argument("--work_dir", default=None, help="default: a temporary folder")
  return p.parse_args(argv)


def _same_tree(a, b) -> bool:
  for directory, _, names in os.walk(a):
    other = os.path.join(b, os.path.relpath(directory, a))
    _, mismatch, errors = filecmp.cmpfiles(directory, other, names, shallow=False)
    if mismatch or errors:
      return False
  return True


def main(argv):
  args = _parse(argv)
  root = args.work_dir or tempfile.mkdtemp(prefix="gcml-bench-export-")
  synth.generate(synth.SynthConfig(num_items=args.num_items, seed=0), os.path.join(root, "w"))
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from model.config import EmbeddingModelConfig, ModalityConfig  # pylint: disable=import-outside-toplevel
  from model.export import export_saved_model  # pylint: disable=import-outside-toplevel
  from model.towers import EmbeddingModel  # pylint: disable=import-outside-toplevel
  tf.keras.utils.set_random_seed(0)
  model = EmbeddingModel(EmbeddingModelConfig.demo(modalities=(
      ModalityConfig("mean_rgb", 1024), ModalityConfig("mean_audio", 128))))
  export_saved_model(model, os.path.join(root, "model", "export"))
  out = {"items": args.num_items, "search": args.search, "runner": args.runner}
  for engine, extra in (("local", ["--engine=local"]), ("beam", [f"--runner={args.runner}"])):
    start = time.perf_counter()
    section = export.run([f"--model_dir={root}/model", f"--features={root}/w/features-*",
                          f"--output_dir={root}/{engine}", "--top_k=60",
                          f"--search={args.search}", *extra])
    out[f"{engine}_s"] = round(time.perf_counter() - start, 1)
    out["embedded_items"] = section["export/embedded_items"]
  out["same_bytes"] = _same_tree(f"{root}/beam", f"{root}/local")
  out["speedup"] = round(out["beam_s"] / out["local_s"], 1)
  print(json.dumps(out, indent=2, sort_keys=True))
  return out
