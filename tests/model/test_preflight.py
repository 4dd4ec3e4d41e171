"""gcml train: input and model_dir problems are one line (exit 2) before any step."""

import json
import os

import numpy as np
import pytest

from launch import main as gcml
from pipelines.io import tf_example
from tests.model.shards import write_shards
from tests.model.training_records import labelled_records, triplet_records

NET = ["--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=16", "--embedding_dim=8",
       "--batch_size=16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """An examples-like output directory and a model_dir trained 4 steps on it."""
  root = tmp_path_factory.mktemp("preflight")
  data = root / "examples"
  write_shards(str(data), "triplets", triplet_records(64, np.random.default_rng(0)))
  (data / "summary.json").write_text("{}\n")
  (data / "rejected").mkdir()
  (data / "rejected" / "examples-00000-of-00001.tsv").write_text("")
  model_dir = root / "model"
  assert gcml.main(["train", f"--train_data={data}/triplets-*", f"--model_dir={model_dir}",
                    "--train_steps=4", "--checkpoint_every=2", "--mode=triplet", *NET]) == 0
  return root, data, model_dir


def _train(capsys, *flags):
  # A triplet run (the demo preset's default is contrastive); a flag may name another mode.
  code = gcml.main(["train", *NET, "--mode=triplet", "--train_steps=6", *flags])
  err = capsys.readouterr().err.strip().splitlines()
  return code, err[-1] if err else ""


def _one_line_error(capsys, *flags):
  code, line = _train(capsys, *flags)
  assert code == 2, line
  assert line.startswith("gcml train: error: "), line
  return line


def test_glob_over_an_examples_output_skips_side_files(trained, tmp_path, capsys):
  _, data, _ = trained
  code, line = _train(capsys, f"--train_data={data}/*", f"--model_dir={tmp_path}/m")
  assert code == 0, line
  assert os.path.exists(f"{tmp_path}/m/export/saved_model.pb")


def test_only_side_files_is_one_line(trained, tmp_path, capsys):
  _, data, _ = trained
  line = _one_line_error(capsys, f"--train_data={data}/s*,{data}/rej*",
                         f"--model_dir={tmp_path}/m")
  assert "matches no example shard, only summary.json" in line


def test_non_tfrecord_shard_is_one_line(tmp_path, capsys):
  (tmp_path / "t-0.tfrecord").write_bytes(b"id,features\nnot a tfrecord at all\n")
  line = _one_line_error(capsys, f"--train_data={tmp_path}/t-*", f"--model_dir={tmp_path}/m")
  assert f"{tmp_path}/t-0.tfrecord is not a TFRecord file" in line


def test_empty_triplet_set_is_one_line(tmp_path, capsys):
  write_shards(str(tmp_path), "t", [], num_shards=3)
  line = _one_line_error(capsys, f"--train_data={tmp_path}/t-*", f"--model_dir={tmp_path}/m")
  assert "the 3 shards matching" in line and "hold no examples" in line


def test_other_modalities_are_one_line(trained, tmp_path, capsys):
  _, data, _ = trained
  line = _one_line_error(capsys, f"--train_data={data}/triplets-*",
                         f"--model_dir={tmp_path}/m", "--modalities=rgb:8")
  assert "feature anchor/rgb is missing" in line
  assert "the records carry mean_audio:4, mean_rgb:8" in line
  line = _one_line_error(capsys, f"--train_data={data}/triplets-*",
                         f"--model_dir={tmp_path}/m", "--modalities=mean_rgb:16,mean_audio:4")
  assert "feature anchor/mean_rgb has 8 values" in line


def test_triplets_for_clc_and_labels_for_triplet_are_one_line(trained, tmp_path, capsys):
  _, data, _ = trained
  line = _one_line_error(capsys, f"--train_data={data}/triplets-*", "--mode=clc",
                         "--num_classes=4", f"--model_dir={tmp_path}/m")
  assert "records have no `label`" in line
  write_shards(str(tmp_path), "l", labelled_records(32, np.random.default_rng(1)))
  line = _one_line_error(capsys, f"--train_data={tmp_path}/l-*", f"--model_dir={tmp_path}/m")
  assert "records have no `level`" in line


def test_num_classes_below_the_labels_is_one_line(tmp_path, capsys):
  write_shards(str(tmp_path), "l", labelled_records(32, np.random.default_rng(1)))  # labels 0..5
  (tmp_path / "classes.tsv").write_text(
      "label\tcluster\tsize\n" + "".join(f"{i}\tc{i}\t5\n" for i in range(6)))
  line = _one_line_error(capsys, f"--train_data={tmp_path}/l-*", "--mode=clc",
                         "--num_classes=3", f"--model_dir={tmp_path}/m")
  assert "--num_classes=3 is below the 6 classes of" in line
  os.remove(tmp_path / "classes.tsv")
  records = [tf_example.encode({"id": "x", "label": [5],
                                "mean_rgb": np.zeros(8, np.float32),
                                "mean_audio": np.zeros(4, np.float32)})]
  write_shards(str(tmp_path), "big", records, num_shards=1)
  line = _one_line_error(capsys, f"--train_data={tmp_path}/big-*", "--mode=clc",
                         "--num_classes=3", f"--model_dir={tmp_path}/m")
  assert "label [5] is outside [0, 3)" in line


@pytest.mark.parametrize("flag,message", [
    ("--hidden_units=32", "hidden_units 16 -> 32"),
    ("--embedding_dim=4", "embedding_dim 8 -> 4"),
    ("--mode=contrastive", "--mode 'triplet' -> 'contrastive'"),
    ("--optimizer=sgd", "--optimizer 'adam' -> 'sgd'"),
])
def test_resuming_with_another_network_mode_or_optimizer_is_refused(trained, capsys, flag,
                                                                    message):
  _, data, model_dir = trained
  before = (model_dir / "train_config.json").read_text()
  line = _one_line_error(capsys, f"--train_data={data}/triplets-*", f"--model_dir={model_dir}",
                         flag)
  assert message in line and "holds checkpoints of another run" in line
  assert (model_dir / "train_config.json").read_text() == before  # not overwritten
  assert json.loads(before)["train_steps"] == 4


def test_model_dir_under_a_file_or_read_only_is_one_line(trained, tmp_path, capsys):
  _, data, _ = trained
  (tmp_path / "afile").write_text("x")
  line = _one_line_error(capsys, f"--train_data={data}/triplets-*",
                         f"--model_dir={tmp_path}/afile/m")
  assert f"--model_dir={tmp_path}/afile/m cannot be written" in line
  if os.geteuid() == 0:
    pytest.skip("root writes through read-only permissions")
  ro = tmp_path / "ro"
  ro.mkdir()
  ro.chmod(0o555)
  line = _one_line_error(capsys, f"--train_data={data}/triplets-*", f"--model_dir={ro}/m")
  assert "cannot be written" in line


def test_a_setting_an_older_run_did_not_record_counts_as_its_default(trained, tmp_path, capsys):
  # A run written before --pull_to_init existed resumes with the default (0), and is refused
  # with another value, as if it had recorded the default.
  import shutil  # pylint: disable=import-outside-toplevel
  _, data, model_dir = trained
  older = tmp_path / "older"
  shutil.copytree(model_dir, older)
  stored = json.loads((older / "train_config.json").read_text())
  del stored["model"]["pull_to_init"]
  (older / "train_config.json").write_text(json.dumps(stored))
  line = _one_line_error(capsys, f"--train_data={data}/triplets-*", f"--model_dir={older}",
                         "--pull_to_init=0.5")
  assert "pull_to_init 0.0 -> 0.5" in line
  code, line = _train(capsys, f"--train_data={data}/triplets-*", f"--model_dir={older}")
  assert code == 0, line
