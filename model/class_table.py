"""`classes.tsv`: the CLC classes `gcml examples --kind=labels` writes beside its examples.

A header `label\tcluster\tsize`, then one row per class (contract 6). The
trainer reads the class count from it (`--num_classes=0`) and, for
`--sampler=unigram`, the class sizes.
"""

import os

from model.errors import ConfigError


def classes_file(train_data: str) -> str | None:
  """`classes.tsv` in the directory of the first train-data glob, if any."""
  first = train_data.split(",")[0].strip()
  if not first or "://" in first:
    return None
  path = os.path.join(os.path.dirname(first), "classes.tsv")
  return path if os.path.exists(path) else None


def read_num_classes(path: str) -> int:
  """max(label) + 1 over `classes.tsv` (header `label\\tcluster\\tsize`)."""
  labels = []
  with open(path) as f:
    for i, line in enumerate(f):
      line = line.strip()
      if not line or (i == 0 and line.startswith("label")):
        continue
      try:
        labels.append(int(line.split("\t")[0]))
      except ValueError as e:
        raise ConfigError(f"{path}: bad line {i + 1}: {line!r}") from e
  if not labels:
    raise ConfigError(f"{path}: no classes")
  return max(labels) + 1


def read_class_sizes(path: str, num_classes: int) -> list[int]:
  """The `size` column of `classes.tsv` by label; ConfigError unless every label in
  `[0, num_classes)` has one row with a size >= 1."""
  sizes = [0] * num_classes
  with open(path) as f:
    for i, line in enumerate(f):
      line = line.strip()
      if not line or (i == 0 and line.startswith("label")):
        continue
      fields = line.split("\t")
      try:
        label, size = int(fields[0]), int(fields[2])
      except (ValueError, IndexError) as e:
        raise ConfigError(f"{path}: bad line {i + 1}: {line!r}") from e
      if 0 <= label < num_classes:
        sizes[label] = size
  bad = [label for label, size in enumerate(sizes) if size < 1]
  if bad:
    raise ConfigError(f"{path}: --sampler=unigram needs a size >= 1 for every label; "
                      f"label {bad[0]} has none ({len(bad)} such labels)")
  return sizes
