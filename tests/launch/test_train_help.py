"""`gcml train --help`: every flag has its help text and, where set, its default."""

from launch import train


def test_every_config_flag_has_help():
  actions = {a.dest: a for a in train.parser()._actions}  # pylint: disable=protected-access
  missing = [name for name in train._FIELDS if name != "tpu" and not actions[name].help]  # pylint: disable=protected-access
  assert not missing, missing


def test_help_shows_the_demo_default():
  actions = {a.dest: a for a in train.parser()._actions}  # pylint: disable=protected-access
  assert actions["batch_size"].help == (
      "GLOBAL batch size (divided over the replicas). [demo preset: 64]")
  assert actions["margin"].help.endswith("[demo preset: 0.5]")
  assert actions["modalities"].help.endswith(
      "[default: what `gcml examples` recorded beside --train_data]")


def test_entries_naming_several_fields_give_each_the_text():
  class Config:
    """Attributes:
      a / b: first
        continued.
      c, d: second.
    """
  assert train.attribute_help(Config) == {
      "a": "first continued.", "b": "first continued.", "c": "second.", "d": "second."}
