"""Tests of pipelines/beam_parts.py: lazy Beam halves and Beam-free tagged outputs."""

import subprocess
import sys

import pytest

from pipelines import beam_parts
from pipelines.io import features


def test_lazy_attribute_comes_from_the_beam_sibling():
  from pipelines.io import features_beam
  assert features.ReadFeatures is features_beam.ReadFeatures


def test_an_unknown_attribute_is_an_attribute_error():
  getter = beam_parts.lazy_attributes("pipelines.io.features", ("ReadFeatures",))
  with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
    getter("NoSuchThing")


def test_tagged_output_is_beams_once_beam_is_loaded():
  import apache_beam as beam
  out = beam_parts.tagged_output("rejected", 7)
  assert isinstance(out, beam.pvalue.TaggedOutput)
  assert (out.tag, out.value) == ("rejected", 7)


def test_tagged_output_without_beam_does_not_import_it():
  code = ("import sys; from pipelines import beam_parts; "
          "out = beam_parts.tagged_output('kept', (1, 2)); "
          "assert type(out) is beam_parts.TaggedOutput, type(out); "
          "assert (out.tag, out.value) == ('kept', (1, 2)); "
          "assert 'apache_beam' not in sys.modules; print('ok')")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == "ok"
