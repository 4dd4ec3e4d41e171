"""The triplet input's level curriculum (`--level_schedule`): each phase of the
run reads only the triplets of its scheduled level (see `model/input.py`)."""

import tensorflow as tf

from model.errors import ConfigError


_LEVEL_SPEC = {"level": tf.io.FixedLenFeature([], tf.int64)}
SCHEDULE_PROBE_RECORDS = 20000


def phase_of(step, schedule_steps: int, phases: int):
  """The curriculum phase of a step: equal shares of the run, the last one open-ended."""
  return tf.minimum(tf.cast(phases - 1, tf.int64),
                    step * phases // max(1, schedule_steps))


def _level_of(record):
  return tf.io.parse_single_example(record, _LEVEL_SPEC)["level"]


def level_curriculum(records: tf.data.Dataset, config, files) -> tf.data.Dataset:
  """Records of the scheduled level of each step's phase, step by step.

  One filtered stream per phase; a counter of examples (from `start_step`)
  picks the stream, so every batch lies inside one phase. A scheduled level
  that no triplet carries would starve its stream: the first
  `SCHEDULE_PROBE_RECORDS` records of the files are checked first.
  """
  seen = set()
  for record in tf.data.TFRecordDataset(files).take(SCHEDULE_PROBE_RECORDS):
    seen.add(int(_level_of(record)))
  missing = [lv for lv in config.level_schedule if lv not in seen]
  if missing:
    raise ConfigError(f"--level_schedule: no triplet of level {missing} in the first "
                      f"{SCHEDULE_PROBE_RECORDS} records (levels seen: {sorted(seen)}); write "
                      "the triplets with gcml examples --kind=smart --all_levels")
  streams = [records.filter(lambda r, lv=lv: tf.equal(_level_of(r), lv))
             for lv in config.level_schedule]
  batch, phases = config.batch_size, len(config.level_schedule)
  choice = tf.data.Dataset.counter(start=config.start_step * batch).map(
      lambda i: phase_of(i // batch, config.schedule_steps, phases))
  return tf.data.Dataset.choose_from_datasets(streams, choice)
