"""Fault injection: `gcml cluster`, `examples` and `export` SIGKILLed at seeded points.

Each stage runs once uninterrupted (the clean bytes), twice into another
folder, each run SIGKILLed (with its process group) as soon as a seeded
number of names has appeared under its output (a progress point, not a time:
about the same on a fast or a loaded machine; one early and one late point,
the second landing on the first's leftovers), and then again, to completion,
into the killed folder. Checked: the reader of the next stage either refuses
the killed output in one line or reads exactly the clean bytes (never a
partial or mixed set); the rerun takes over the dead run's `_LOCK`, leaves no
temporaries and writes the clean bytes.
"""

import concurrent.futures
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from launch import main as gcml
from model import input as input_lib
from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.export import export_saved_model
from model.towers import EmbeddingModel
from pipelines.io import inputs, shard_sets
from pipelines.errors import InputError
from pipelines.io.cluster_tables import reader as tables

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODALITIES = "mean_rgb:8,mean_audio:4"
SEED = 17


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("kill"))
  assert gcml.main(["synth", f"--output_dir={root}/world", "--preset=small", "--num_items=200",
                    f"--modalities={MODALITIES}", "--items_per_shard=50", "--processes=1"]) == 0
  tf.keras.utils.set_random_seed(0)
  model = EmbeddingModel(EmbeddingModelConfig.demo(
      modalities=(ModalityConfig("mean_rgb", 8), ModalityConfig("mean_audio", 4)),
      hidden_units=(16,), embedding_dim=8))
  export_saved_model(model, os.path.join(root, "model", "export"))
  return root


def _names(out: str) -> set:
  found = set()
  for d, _, names in os.walk(out):
    found.update(os.path.relpath(os.path.join(d, n), out) for n in names)
  return found


def _run(args: list[str], out: str, kill_after: int | None = None, watch: bool = True):
  """Runs `gcml ARGS --output_dir=OUT`; SIGKILLs it once `kill_after` names have appeared.

  Returns:
    (exit status, names seen while it ran (none unless `watch`: the folder is
    polled every 2 ms, which takes a core from the runs), stderr).
  """
  env = dict(os.environ, PYTHONPATH=ROOT)
  proc = subprocess.Popen([sys.executable, "-m", "launch.main", *args, f"--output_dir={out}",
                           "--runner=FnApiRunner"], cwd=ROOT, env=env, start_new_session=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  seen = set()
  while watch and proc.poll() is None:
    if os.path.isdir(out):
      seen |= _names(out)
    if kill_after is not None and len(seen) >= kill_after:
      os.killpg(proc.pid, signal.SIGKILL)
      break
    time.sleep(0.002)
  _, err = proc.communicate(timeout=300)
  return proc.returncode, seen, err


def _bytes(out: str, names) -> dict:
  out_names = sorted(n for n in names if os.path.exists(os.path.join(out, n)))
  return {n: open(os.path.join(out, n), "rb").read() for n in out_names}


def _cluster_reader(out):
  """gcml examples --clusters=OUT: its assignment shards (a whole set with its manifest)."""
  return tables.assignment_files(out)


def _examples_reader(out):
  """gcml train --train_data=OUT/triplets-*: the trainer's preflight reader."""
  pattern = os.path.join(out, "triplets-*.tfrecord")
  input_lib.check_records(input_lib.InputConfig(
      pattern, "triplet", (("mean_rgb", 8), ("mean_audio", 4))))
  return input_lib.list_files(pattern)


def _export_reader(out):
  """gcml evaluate --embeddings=OUT/embeddings-*, and the related-items set."""
  paths = inputs.check_files(os.path.join(out, "embeddings-*.tfrecord"), "--embeddings",
                             tfrecord=True, require_manifest=True)
  related = inputs.expand(os.path.join(out, "related-*.tsv"), "related", require_manifest=True)
  shard_sets.check_paths(related, "related", require_manifest=True)
  return paths + related


def _stages(world):
  edges, feats = f"--edges={world}/world/edges-*.csv", f"--features={world}/world/features-*"
  return {
      # One level: the same output files (tables, manifests, summary) from a shorter
      # Beam job than the default 3 levels (about 9 instead of 12.5 CPU-s a run).
      "cluster": (["cluster", edges, "--num_shards=4", "--levels=1"], _cluster_reader),
      "examples": (["examples", "--kind=random", edges, feats, "--num_shards=4",
                    f"--modalities={MODALITIES}"], _examples_reader),
      "export": (["export", f"--model_dir={world}/model", feats, "--num_shards=4",
                  "--top_k=5"], _export_reader),
  }


def _reader_verdict(reader, killed, expected) -> str:
  """The next stage's reader on a killed folder: a one-line refusal, or the clean bytes."""
  try:
    accepted = reader(killed)
  except (InputError, ConfigError) as e:
    assert "\n" not in str(e)
    return f"refused: {e}"
  consumed = {os.path.relpath(p, killed) for p in accepted}  # whole: it must be the clean set
  assert _bytes(killed, consumed) == {n: expected[n] for n in consumed}
  return "accepted the clean bytes"


def _kill_and_rerun(world, name, args, reader, seed):
  """Clean run; two kills into one folder (the second over the first's leftovers); rerun."""
  clean, killed = os.path.join(world, name, "clean"), os.path.join(world, name, "killed")
  code, timeline, err = _run(args, clean)
  assert code == 0, err
  expected = _bytes(clean, _names(clean))
  # One seeded point in the first half of the clean run's names, one in the second.
  rng, half = random.Random(seed), max(3, len(timeline) // 2)
  points = [rng.randrange(2, half), rng.randrange(half, max(half + 1, len(timeline) - 1))]
  outcomes = []
  for kill_after in points:
    code, _, _ = _run(args, killed, kill_after)
    outcomes.append((code, kill_after, len(timeline), _reader_verdict(reader, killed, expected)))
  left = _names(killed)
  code_rerun, _, err = _run(args, killed, watch=False)
  assert code_rerun == 0, err
  if code == -signal.SIGKILL and "_LOCK" in left:
    assert "taking over the lock" in err
  assert not [n for n in _names(killed) if ".tmp-" in n]
  assert _bytes(killed, _names(killed)) == expected
  return name, outcomes


@pytest.mark.slow
def test_killed_stages_are_refused_and_reruns_give_the_clean_bytes(world):
  stages = _stages(world)
  with concurrent.futures.ThreadPoolExecutor(len(stages)) as pool:
    runs = [pool.submit(_kill_and_rerun, world, name, args, reader, SEED + i)
            for i, (name, (args, reader)) in enumerate(stages.items())]
    results = [r.result() for r in runs]
  for name, outcomes in results:
    for code, kill_after, names, verdict in outcomes:
      print(f"{name}: exit {code} after {kill_after} of {names} names; reader {verdict}")
    # The early kill landed before the output was whole (what the test is for).
    assert outcomes[0][3].startswith("refused"), name
