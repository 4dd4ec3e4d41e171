"""Tests for pipelines/config_flags.py: stage flags generated from the config dataclasses."""

import dataclasses
from typing import Literal

import pytest

from pipelines.clustering import stage as cluster
from pipelines import config_flags
from pipelines.evaluation import stage as evaluate
from pipelines.export import stage as export
from pipelines.examples import stage as make_examples
from pipelines.validate import stage as validate
from pipelines.errors import InputError

STAGES = {"validate": validate.ValidateConfig, "cluster": cluster.ClusterConfig,
          "examples": make_examples.ExamplesConfig, "export": export.ExportConfig,
          "evaluate": evaluate.EvaluateConfig}


@dataclasses.dataclass
class _Config:
  """Attributes:
    name: the name.
    size: how many.
    kind: which one.
    fast: go fast.
    cap: an optional cap.
  """
  name: str
  size: int = 3
  kind: Literal["a", "b"] = "a"
  fast: bool = False
  cap: int | None = None
  modalities: tuple | None = config_flags.modalities_field()
  edge_combine: config_flags.EdgeCombine = "max"


def _actions(cls):
  parser = config_flags.stage_parser("gcml x", "x", cls)
  return parser, {a.dest: a for a in parser._actions if a.dest != "help"}  # pylint: disable=protected-access


def test_one_flag_per_field_typed_with_help_and_default():
  parser, actions = _actions(_Config)
  assert set(actions) == {f.name for f in dataclasses.fields(_Config)}
  assert actions["name"].required and actions["name"].help == "the name."
  assert actions["size"].help == "how many. (default: 3)"
  assert actions["kind"].choices == ("a", "b")
  assert actions["edge_combine"].help.startswith("duplicate edges")  # from the shared group
  args = parser.parse_args(["--name=n", "--size=5", "--kind=b", "--fast", "--cap=7",
                            "--modalities=rgb:4,audio:2"])
  config = config_flags.config_from_args(_Config, args)
  assert config == _Config("n", 5, "b", True, 7, (("rgb", 4), ("audio", 2)), "max")
  assert config_flags.config_from_args(_Config, parser.parse_args(["--name=n"])) == _Config("n")
  with pytest.raises(SystemExit):
    parser.parse_args(["--name=n", "--kind=c"])


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_flag_has_help(stage):
  _, actions = _actions(STAGES[stage])
  missing = [name for name, action in actions.items() if not action.help]
  assert not missing, missing


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_shared_groups_read_the_same_in_every_stage(stage):
  parser, actions = _actions(STAGES[stage])
  groups = {g.title: [a.dest for a in g._group_actions] for g in parser._action_groups}  # pylint: disable=protected-access
  if "edge_combine" in actions:
    assert actions["edge_combine"].help == _actions(validate.ValidateConfig)[1][
        "edge_combine"].help
    assert "edge_combine" in groups["edges"]
  if "modalities" in actions:
    assert groups["modalities"] == ["modalities"]


def test_evaluate_unknown_flag_is_one_line_with_a_suggestion():
  with pytest.raises(InputError, match=r"unknown flag --ndcg_kk; did you mean --ndcg_k\?"):
    evaluate.parse_args(["--embeddings=e", "--edges=e.csv", "--features=f", "--output_dir=o",
                         "--ndcg_kk=5"])


def test_flag_values_reach_the_typed_config():
  config, rest = export.parse_args(["--model_dir=m", "--features=f", "--output_dir=o",
                                    "--modalities=rgb:8", "--engine=beam", "--runner=X"])
  assert config == export.ExportConfig("m", "f", "o", modalities=(("rgb", 8),))
  assert rest == ["--runner=X"]
  config, _ = evaluate.parse_args(["--embeddings=e", "--edges=e.csv", "--features=f",
                                   "--output_dir=o", "--model_dir=A=a,B=b", "--model_dir=c"])
  assert config.model_dir == {"A": "a", "B": "b", "c": "c"}


@pytest.mark.parametrize("argv,message", [
    (["train", "--batch_sise=3"], "gcml train: error: unknown flag --batch_sise; "
     "did you mean --batch_size?"),
    (["demo", "--trian_steps=3"], "gcml demo: error: unknown flag --trian_steps; "
     "did you mean --train_steps?"),
    (["synth", "--output_dir=o", "--sead=3"], "gcml synth: error: unknown flag --sead; "
     "did you mean --seed?"),
])
def test_commands_without_beam_options_give_the_one_line_error(argv, message, capsys):
  from launch import main  # pylint: disable=import-outside-toplevel
  assert main.main(argv) == 2
  assert capsys.readouterr().err.strip() == message


@pytest.mark.parametrize("argv,message", [
    (["evaluate", "--embeddings=e", "--edges=e.csv", "--features=f", "--ndcg=5"],
     "gcml evaluate: error: unknown flag --ndcg; did you mean --ndcg_k?"),
    (["validate", "--edges=e.csv", "--features=f", "--max_abs=3"],
     "gcml validate: error: unknown flag --max_abs; did you mean --max_abs_feature?"),
    (["train", "--train_step=5"], "gcml train: error: unknown flag --train_step; "
     "did you mean --train_steps?"),
    (["demo", "--train_step=5"], "gcml demo: error: unknown flag --train_step; "
     "did you mean --train_steps?"),
    (["synth", "--num_item=5"], "gcml synth: error: unknown flag --num_item; "
     "did you mean --num_items?"),
])
def test_a_flag_prefix_is_not_taken_as_the_flag(argv, message, tmp_path, capsys):
  """`--ndcg=5` is no abbreviation of `--ndcg_k`: argparse's prefix matching is off."""
  from launch import main  # pylint: disable=import-outside-toplevel
  assert main.main([*argv, f"--output_dir={tmp_path}/out"]) == 2
  assert capsys.readouterr().err.strip() == message


def test_override_flags_default_to_none_and_show_the_preset():
  import argparse  # pylint: disable=import-outside-toplevel
  import dataclasses  # pylint: disable=import-outside-toplevel

  @dataclasses.dataclass
  class Inner:
    """Attributes:
      width: units per layer.
      depth: layers.
    """
    width: int = 4
    depth: int = 2

  @dataclasses.dataclass
  class Outer:
    """Attributes:
      steps: optimizer steps.
      fast: a switch.
    """
    steps: int | None = 10
    fast: bool = False
    inner: Inner = dataclasses.field(default_factory=Inner)

  parser = argparse.ArgumentParser(allow_abbrev=False)
  names = config_flags.add_override_flags(parser, [(Outer, None), (Inner, ("depth",))],
                                          lambda name: f" [preset: {name}]")
  assert names == ("steps", "fast", "depth")
  actions = {a.dest: a for a in parser._actions}  # pylint: disable=protected-access
  assert actions["steps"].help == "optimizer steps. [preset: steps]"
  assert actions["fast"].help == "a switch." and "width" not in actions
  assert vars(parser.parse_args([])) == {"steps": None, "fast": None, "depth": None}
  assert vars(parser.parse_args(["--steps=3", "--fast"])) == {"steps": 3, "fast": True,
                                                              "depth": None}


@dataclasses.dataclass(frozen=True)
class _Optimizer:
  """Attributes:
    rate: the learning rate.
  """
  rate: float = 0.1


@dataclasses.dataclass(frozen=True)
class _Run:
  """Attributes:
    steps: optimizer steps.
  """
  steps: int = 10
  optimizer: _Optimizer = dataclasses.field(default_factory=_Optimizer)


def test_named_override_flags_are_found_in_nested_configs():
  import argparse  # pylint: disable=import-outside-toplevel

  assert config_flags.nested_fields(_Run) == {
      "steps": (("steps",), _Run, int), "rate": (("optimizer", "rate"), _Optimizer, float)}
  parser = argparse.ArgumentParser(allow_abbrev=False)
  names = config_flags.add_override_flags(parser, [(_Run, ("rate", "steps"))],
                                          lambda name: f" [preset: {name}]")
  assert names == ("rate", "steps")  # the order given, flat names
  actions = {a.dest: a for a in parser._actions}  # pylint: disable=protected-access
  assert actions["rate"].help == "the learning rate. [preset: rate]"
  assert actions["rate"].type is float
  assert vars(parser.parse_args(["--rate=0.5"])) == {"rate": 0.5, "steps": None}


def test_nested_fields_of_one_name_are_refused():
  @dataclasses.dataclass
  class Twice:
    rate: float = 0.0
    optimizer: _Optimizer = dataclasses.field(default_factory=_Optimizer)

  with pytest.raises(ValueError, match="two nested fields are named 'rate'"):
    config_flags.nested_fields(Twice)
