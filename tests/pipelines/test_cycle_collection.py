"""`pipelines/cycle_collection.py`: collection paused inside the block, restored after."""

import gc

import pytest

from pipelines import cycle_collection


def test_paused_inside_and_back_on_after_even_on_an_error():
  assert gc.isenabled()
  with cycle_collection.paused():
    assert not gc.isenabled()
  assert gc.isenabled()
  with pytest.raises(ValueError), cycle_collection.paused():
    raise ValueError("stop")
  assert gc.isenabled()


def test_left_off_when_it_was_off_and_nested_blocks_keep_it_off():
  gc.disable()
  try:
    with cycle_collection.paused():
      with cycle_collection.paused():
        pass
      assert not gc.isenabled()
    assert not gc.isenabled()
  finally:
    gc.enable()
