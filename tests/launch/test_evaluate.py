"""`launch/evaluate.py`: `gcml evaluate` hands its flags to the evaluation stage."""

import pytest

from launch import evaluate
from pipelines.errors import InputError


def test_main_reports_a_missing_input_as_an_input_error(tmp_path):
  with pytest.raises(InputError, match=r"^--edges: no file matches: .*/none-\*\.csv$"):
    evaluate.main([f"--embeddings={tmp_path}/x-*", f"--edges={tmp_path}/none-*.csv",
                   f"--features={tmp_path}/f-*", f"--output_dir={tmp_path}/out"])
