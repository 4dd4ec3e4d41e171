"""`launch/validate.py`: `gcml validate` hands its flags to the validation stage."""

import pytest

from launch import validate
from pipelines.errors import InputError


def test_main_reports_a_missing_input_as_an_input_error(tmp_path):
  with pytest.raises(InputError, match=r"^--edges: no file matches: .*/none-\*\.csv$"):
    validate.main([f"--edges={tmp_path}/none-*.csv", f"--features={tmp_path}/f-*.tfrecord",
                   f"--output_dir={tmp_path}/out"])


def test_main_asks_for_the_edge_format_it_cannot_tell(tmp_path):
  with pytest.raises(InputError, match=r"cannot tell the format of .*/edges-\* from its name"):
    validate.main([f"--edges={tmp_path}/edges-*", f"--features={tmp_path}/f-*.tfrecord",
                   f"--output_dir={tmp_path}/out"])
