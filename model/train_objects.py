"""The objects one training run builds under the strategy's scope, and their checkpoints.

`TrainObjects` holds the model (a `TemporalEmbeddingModel` for
`--mode=temporal_contrastive`), the CLC class table (and the unigram
sampler's cumulative class sizes), the optimizer and the checkpoint manager
of `model_dir/checkpoints`; `restore()` resumes from the newest valid
checkpoint (same step counter, `optimizer.iterations`, and optimizer state);
without one, `--init_from` loads a pre-trained network (`model/init_from.py`).
"""

from __future__ import annotations

import logging
import os

import tensorflow as tf

from model import checkpoints, init_from, train_runtime
from model.losses import ClassEmbeddingTable, unigram_cumulative
from model.steps import make_optimizer
from model.temporal_tower import MASK_KEY, TemporalEmbeddingModel
from model.towers import EmbeddingModel
from model.trainer_config import TrainConfig

log = logging.getLogger(__name__)


class TrainObjects:
  """Model, table, optimizer and checkpoint, created under the scope."""

  def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy,
               chief: bool = True):
    with strategy.scope():
      if config.trainer.mode == "temporal_contrastive":  # frame-level input (docs/frames.md)
        self.model = TemporalEmbeddingModel(config.model)
        self.model({**{n: tf.zeros([1, 1, d]) for n, d in config.modalities},
                    MASK_KEY: tf.ones([1, 1], tf.bool)})
      else:
        self.model = EmbeddingModel(config.model)
        self.model({n: tf.zeros([1, d]) for n, d in config.modalities})  # creates the variables
      self.network = getattr(self.model, "video_model", self.model)
      self.network.snapshot_init()  # W0 of --pull_to_init (restored with the model)
      self.table = None
      if config.trainer.mode == "clc":
        self.table = ClassEmbeddingTable(config.resolved_num_classes(),
                                         config.model.output_dim)
      # The unigram sampler's cumulative class sizes: a variable, so each
      # device holds one copy; derived from classes.tsv, not checkpointed.
      self.cumulative_counts = None
      if self.table is not None and config.trainer.sampler == "unigram":
        self.cumulative_counts = tf.Variable(unigram_cumulative(config.class_sizes()),
                                             trainable=False, name="unigram_cumulative")
      self.optimizer = make_optimizer(config)
      self.optimizer.build(self.trainable_variables())
      items = dict(model=self.model, optimizer=self.optimizer)
      if self.table is not None:
        items["class_table"] = self.table
      self.checkpoint = tf.train.Checkpoint(**items)
    # Every multi-worker worker must save (the save runs collectives); only the
    # chief writes model_dir/checkpoints, the others a private temporary
    # directory (deleted at the end) so no two processes write one checkpoint.
    self.chief_dir = os.path.join(config.runtime.model_dir, "checkpoints")
    self.tmp_dir = None if chief else os.path.join(
        config.runtime.model_dir,
        f"checkpoints_tmp_{train_runtime.task_id(strategy)}_{os.getpid()}")
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self.tmp_dir or self.chief_dir, max_to_keep=config.runtime.max_checkpoints)
    self.config = config

  def trainable_variables(self) -> list:
    """The model's trainable variables, then the class table's."""
    return self.model.trainable_variables + (
        self.table.trainable_variables if self.table else [])

  def cleanup(self) -> None:
    """Deletes a non-chief worker's temporary checkpoint directory."""
    if self.tmp_dir and tf.io.gfile.exists(self.tmp_dir):
      tf.io.gfile.rmtree(self.tmp_dir)

  def restore(self) -> int:
    """Restores the newest valid checkpoint, if any.

    Returns:
      The step it holds (0 without one); `self.restored` says whether one was.
    """
    latest = checkpoints.restore_newest_valid(self.checkpoint, self.chief_dir)
    self.restored = bool(latest)
    if latest:
      log.info("restored %s", latest)
    elif self.config.trainer.init_from:  # a fresh run starts from the pre-trained network
      init_from.load(self.model, self.config.trainer.init_from)
      self.network.snapshot_init()  # --pull_to_init pulls towards the pre-trained weights
    return int(self.optimizer.iterations.numpy())
