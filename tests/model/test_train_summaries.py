"""`model/train_summaries.py`: the `model_dir/train` scalars of a run, when they are due, and a
non-chief worker's folder removed. (`HeldOutEvaluation` runs in tests/model/test_trainer.py.)"""

import os

import tensorflow as tf

from model.train_summaries import TrainSummaries
from model.trainer_config import TrainConfig
from pipelines.evaluation import training_summaries


def _config(model_dir):
  return TrainConfig.from_flags(None, model_dir=str(model_dir), summary_every=5, train_steps=12,
                                on_nonfinite="skip", batch_size=4)


def test_due_every_summary_every_steps_and_at_the_end(tmp_path):
  summaries = TrainSummaries(_config(tmp_path), chief=True)
  assert [step for step in range(1, 13) if summaries.due(step)] == [5, 10, 12]
  summaries.close()


def test_written_scalars_read_back(tmp_path):
  summaries = TrainSummaries(_config(tmp_path), chief=True)
  summaries.write(5, {"loss": 0.5}, 0.1, skipped_total=2)
  summaries.write(10, {"loss": 0.25}, lambda step: 0.01 * float(step), skipped_total=3)
  summaries.close()
  assert summaries.dir == os.path.join(str(tmp_path), "train")
  scalars = training_summaries.read_scalars(training_summaries.event_files(str(tmp_path)))
  assert sorted(scalars) == ["examples_per_second", "learning_rate", "loss", "nonfinite_skipped"]
  assert scalars["loss"] == [(5, 0.5), (10, 0.25)]
  # A schedule is read at the step before: the rate the last update used (0.01 * 9).
  assert [(s, round(v, 6)) for s, v in scalars["learning_rate"]] == [(5, 0.1), (10, 0.09)]
  assert scalars["nonfinite_skipped"] == [(5, 2.0), (10, 3.0)]
  assert all(v > 0 for _, v in scalars["examples_per_second"])


def test_a_non_chief_writes_a_temporary_folder_that_close_removes(tmp_path):
  summaries = TrainSummaries(_config(tmp_path), chief=False)
  summaries.write(5, {"loss": 1.0}, 0.1, skipped_total=0)
  assert os.path.basename(summaries.dir).startswith("train_tmp_")
  assert tf.io.gfile.exists(summaries.dir)
  summaries.close()
  assert not tf.io.gfile.exists(summaries.dir)
  assert not os.path.exists(tmp_path / "train")
