"""`launch/examples.py`: `gcml examples` hands its flags to the examples stage."""

import pytest

from launch import examples
from pipelines.errors import InputError


def test_main_reports_a_missing_input_as_an_input_error(tmp_path):
  with pytest.raises(InputError, match=r"^--features: no file matches: .*/f-\*\.tfrecord$"):
    examples.main(["--kind=random", f"--edges={tmp_path}/e-*.csv",
                   f"--features={tmp_path}/f-*.tfrecord", f"--clusters={tmp_path}/c",
                   f"--output_dir={tmp_path}/out"])
