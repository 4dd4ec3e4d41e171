"""`launch/export.py`: `gcml export` hands its flags to the export stage."""

import pytest

from launch import export
from pipelines.errors import InputError


def test_main_reports_a_missing_model_as_an_input_error(tmp_path):
  with pytest.raises(InputError, match=r"^--model_dir: no SavedModel \(saved_model.pb\) in "
                                       r".*/m or .*/m/export$"):
    export.main([f"--model_dir={tmp_path}/m", f"--features={tmp_path}/f-*",
                 f"--output_dir={tmp_path}/out"])
