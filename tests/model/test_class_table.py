"""`model/class_table.py`: `classes.tsv` beside the train data, its class count and sizes."""

import pytest

from model.class_table import classes_file, read_class_sizes, read_num_classes
from model.errors import ConfigError


def _table(tmp_path, lines):
  path = tmp_path / "classes.tsv"
  path.write_text("".join(line + "\n" for line in lines))
  return str(path)


def test_classes_file_sits_beside_the_first_glob(tmp_path):
  assert classes_file(f"{tmp_path}/labels-*.tfrecord") is None
  path = _table(tmp_path, ["label\tcluster\tsize"])
  assert classes_file(f"{tmp_path}/labels-*.tfrecord, /elsewhere/x") == path
  assert classes_file("gs://bucket/labels-*") is None
  assert classes_file("") is None


def test_num_classes_is_the_largest_label_plus_one(tmp_path):
  path = _table(tmp_path, ["label\tcluster\tsize", "0\tl0-a\t3", "4\tl0-b\t1", "", "2\tl0-c\t2"])
  assert read_num_classes(path) == 5


def test_sizes_by_label(tmp_path):
  path = _table(tmp_path, ["label\tcluster\tsize", "1\tl0-b\t7", "0\tl0-a\t3", "9\tl0-z\t1"])
  assert read_class_sizes(path, 2) == [3, 7]  # label 9 lies outside [0, 2)


@pytest.mark.parametrize("lines, call, message", [
    (["label\tcluster\tsize"], read_num_classes, r"classes\.tsv: no classes$"),
    (["label\tcluster\tsize", "x\tl0-a\t3"], read_num_classes,
     r"classes\.tsv: bad line 2: 'x\\tl0-a\\t3'$"),
    (["0\tl0-a"], lambda p: read_class_sizes(p, 1), r"classes\.tsv: bad line 1: "),
    (["0\tl0-a\t3", "2\tl0-c\t0"], lambda p: read_class_sizes(p, 3),
     r"needs a size >= 1 for every label; label 1 has none \(2 such labels\)$"),
])
def test_bad_tables_are_one_line(tmp_path, lines, call, message):
  with pytest.raises(ConfigError, match=message):
    call(_table(tmp_path, lines))
