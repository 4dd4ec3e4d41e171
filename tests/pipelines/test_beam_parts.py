"""Tests of pipelines/beam_parts.py: Beam-free tagged outputs; no forwarding to the `_beam` siblings."""

import subprocess
import sys

from pipelines import beam_parts
from pipelines.io import features


def test_no_local_module_forwards_to_its_beam_sibling():
  # The `_beam` siblings are imported by name; a module without Beam has no `__getattr__`.
  assert not hasattr(features, "ReadFeatures")
  assert not hasattr(features, "__getattr__")


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
