"""`pipelines/io/modality_spec.py`: the `--modalities` flag parsed and written, a fixed order
for detected modalities, and comparison in any order."""

import pytest

from pipelines.errors import InputError
from pipelines.io.modality_spec import (DEFAULT_MODALITIES, Modality, canonical_order,
                                        modalities_flag, parse_modalities, same)


def test_canonical_order_is_larger_first_then_name():
  assert canonical_order([("mean_audio", 128), ("mean_rgb", 1024)]) == (
      Modality("mean_rgb", 1024), Modality("mean_audio", 128))
  assert canonical_order([("b", 3), ("a", 3), ("c", 9)]) == (("c", 9), ("a", 3), ("b", 3))


def test_parse_keeps_the_order_given_and_strips_spaces():
  assert parse_modalities(" visual : 6, audio:3") == (Modality("visual", 6), Modality("audio", 3))
  assert parse_modalities("mean_rgb:1024,mean_audio:128") == DEFAULT_MODALITIES


@pytest.mark.parametrize("spec", ["rgb", "rgb:", ":4", "rgb:0", "rgb:-1", "rgb:1.5", "a:1,,b:2"])
def test_parse_refuses_what_is_not_name_dim(spec):
  with pytest.raises(InputError, match=r"^--modalities: expected name:dim\[,name:dim\.\.\.\], "
                                       r"got "):
    parse_modalities(spec)


def test_parse_refuses_a_name_given_twice():
  with pytest.raises(InputError, match=r"^--modalities: a name appears twice in 'a:1,a:2'$"):
    parse_modalities("a:1,a:2")


def test_the_flag_value_parses_back():
  assert modalities_flag(DEFAULT_MODALITIES) == "mean_rgb:1024,mean_audio:128"
  assert modalities_flag([("a", 3)]) == "a:3"
  assert parse_modalities(modalities_flag([("x", 2), ("y", 5)])) == (("x", 2), ("y", 5))


def test_same_ignores_order_but_not_sizes():
  assert same([("a", 1), ("b", "2")], [Modality("b", 2), Modality("a", 1)])
  assert not same([("a", 1)], [("a", 2)])
  assert not same([("a", 1)], [("a", 1), ("b", 2)])
