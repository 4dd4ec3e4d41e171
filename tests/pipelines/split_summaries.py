"""Stage outputs that record their cold-start split, for the tests of the split checks."""

import json
import os


def write_split_summary(folder, stage, record):
  """Writes `folder/summary.json` whose `stage` section records the split `record`.

  Args:
    folder: the stage's output folder (made if missing).
    stage: the section's name (`examples`, `cluster`, `export`).
    record: the split record, as `pipelines.split.describe` gives it.

  Returns:
    The glob of the stage's triplet files in `folder` (none are written).
  """
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "summary.json"), "w", encoding="utf-8") as f:
    json.dump({stage: {"split": record}}, f)
  return os.path.join(folder, "triplets-*.tfrecord")
