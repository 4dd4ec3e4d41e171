"""`launch/synth.py`: `gcml synth` flags (a preset, explicit flags on top) and the world it writes."""

import json
import os

import pytest

from launch import synth as synth_command
from pipelines import synth
from pipelines.errors import InputError
from pipelines.io.modality_spec import Modality


def test_a_preset_with_flags_on_top(tmp_path):
  config, output_dir = synth_command.parse_args(
      [f"--output_dir={tmp_path}", "--preset=small", "--num_items=500", "--branching=2,3,4",
       "--modalities=a:3,b:2", "--no-unit_weights"])
  assert output_dir == str(tmp_path)
  assert (config.preset, config.num_items, config.branching) == ("small", 500, (2, 3, 4))
  assert config.modalities == (Modality("a", 3), Modality("b", 2))
  assert config.unit_weights is False  # the flag wins over the preset's True
  assert config.mean_degree == 2.2  # the preset's value
  assert config.seed == 0  # neither sets it: the default


def test_without_flags_the_default_preset():
  config, _ = synth_command.parse_args(["--output_dir=o"])
  assert (config.preset, config.num_items, config.branching) == ("planted", 20000, (0, 4, 5))


def test_a_tuple_flag_that_is_not_numbers_is_one_line():
  with pytest.raises(InputError, match=r"^--level_weight takes comma-separated numbers, "
                                       r"got '1,x'$"):
    synth_command.parse_args(["--output_dir=o", "--level_weight=1,x"])
  with pytest.raises(InputError, match=r"^--branching takes comma-separated integers"):
    synth_command.parse_args(["--output_dir=o", "--branching=2,3.5,4"])


def test_an_unknown_preset_is_one_line():
  with pytest.raises(InputError, match=r"^--preset must be one of planted, graded, "
                                       r"strong_content, small, got 'huge'$"):
    synth_command.parse_args(["--output_dir=o", "--preset=huge"])


def test_main_writes_the_world_and_prints_its_figures(tmp_path, capsys):
  out = str(tmp_path / "w")
  assert synth_command.main([f"--output_dir={out}", "--num_items=40", "--processes=1",
                             "--branching=2,2,2", "--mean_degree=4"]) == 0
  assert sorted(os.listdir(out)) == ["edges-00000-of-00001.csv",
                                     "features-00000-of-00001.tfrecord",
                                     "hierarchy-00000-of-00001.tsv", "synth.json"]
  lines = capsys.readouterr().out.splitlines()
  figures = json.loads(lines[-2])
  # 40 items * mean degree 4 / 2 = 80 edge lines; 2 topics * 2 subtopics * 2 = 8 micro-clusters.
  assert (figures["preset"], figures["items"], figures["edge_lines"],
          figures["micro_clusters"]) == ("planted", 40, 80, 8)
  assert lines[-1] == (f"synth: wrote {out}/edges-*.csv, features-*.tfrecord, hierarchy-*.tsv, "
                       "synth.json")


def test_flags_override_the_preset():
  from launch import synth as cli
  from pipelines.errors import InputError
  config, out = cli.parse_args(["--output_dir=o", "--preset=small", "--num_items=2000"])
  assert out == "o" and config.preset == "small"
  assert (config.num_items, config.mean_degree, config.unit_weights) == (2000, 2.2, True)
  config, _ = cli.parse_args(["--output_dir=o", "--preset=small", "--no-unit_weights",
                              "--level_mix=0.7,0.1,0.1,0.1"])
  assert not config.unit_weights and config.level_mix == (0.7, 0.1, 0.1, 0.1)
  config, _ = cli.parse_args(["--output_dir=o"])
  assert config == synth.SynthConfig()
  with pytest.raises(InputError, match="--preset"):
    cli.parse_args(["--output_dir=o", "--preset=no_such_world"])
