"""`gcml synth --output_dir=DIR [--num_items=20000] [--seed=0] ...`: a synthetic world."""

import argparse
import json
import sys

from launch import logs
from pipelines import features, synth


def parse_args(argv) -> tuple[synth.SynthConfig, str]:
  d = synth.SynthConfig()
  p = argparse.ArgumentParser(prog="gcml synth", description=synth.__doc__.splitlines()[0])
  p.add_argument("--output_dir", required=True)
  p.add_argument("--num_items", type=int, default=d.num_items)
  p.add_argument("--seed", type=int, default=d.seed)
  p.add_argument("--branching", default=",".join(map(str, d.branching)),
                 help="topics,subtopics,micro (topics 0: from num_items)")
  p.add_argument("--mean_micro_size", type=int, default=d.mean_micro_size)
  p.add_argument("--mean_degree", type=float, default=d.mean_degree)
  p.add_argument("--level_mix", default=",".join(map(str, d.level_mix)),
                 help="edge shares: micro,subtopic,topic,noise")
  p.add_argument("--modalities", default=features.modalities_flag(d.modalities))
  p.add_argument("--feature_noise", type=float, default=d.feature_noise)
  p.add_argument("--items_per_shard", type=int, default=d.items_per_shard)
  p.add_argument("--processes", type=int, default=d.processes)
  a = p.parse_args(argv)
  try:
    branching = tuple(int(x) for x in a.branching.split(","))
    level_mix = tuple(float(x) for x in a.level_mix.split(","))
  except ValueError:
    from pipelines.errors import InputError
    raise InputError("--branching takes 3 integers, --level_mix 4 numbers") from None
  config = synth.SynthConfig(
      num_items=a.num_items, seed=a.seed, branching=branching,
      mean_micro_size=a.mean_micro_size, mean_degree=a.mean_degree, level_mix=level_mix,
      modalities=features.parse_modalities(a.modalities), feature_noise=a.feature_noise,
      items_per_shard=a.items_per_shard, processes=a.processes)
  return config, a.output_dir


def main(argv: list[str]) -> int:
  logs.setup()
  config, output_dir = parse_args(argv)
  stats = synth.generate(config, output_dir)
  print(json.dumps({k: stats[k] for k in ("items", "edge_lines", "micro_clusters", "degree",
                                          "seconds")}))
  print(f"synth: wrote {output_dir}/edges-*.csv, features-*.tfrecord, hierarchy-*.tsv, synth.json")
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("synth", sys.argv[1:]))
