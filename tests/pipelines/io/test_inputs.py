"""`pipelines/io/inputs.py`: input paths checked before a pipeline starts, one line per problem."""

import pytest

from pipelines.errors import InputError
from pipelines.io import inputs
from tests.pipelines import files


def test_expand_sorts_joins_globs_and_skips_bookkeeping_files(tmp_path):
  for name in ("b.csv", "a.csv", "_LOCK", "_MANIFEST-a.json", "c.txt"):
    files.write_text(str(tmp_path / name), ["x"])
  got = inputs.expand(f"{tmp_path}/*.csv, {tmp_path}/c.txt", "--edges")
  assert got == [f"{tmp_path}/a.csv", f"{tmp_path}/b.csv", f"{tmp_path}/c.txt"]


@pytest.mark.parametrize("pattern, message", [
    ("", r"^no --edges given$"),
    ("{d}/none-*.csv", r"^--edges: no file matches: .*/none-\*\.csv$"),
    ("{d}/none.csv", r"^--edges: no such file: .*/none\.csv$"),
    ("{d}/_*", r"^--edges: no file matches: .*/_\*$"),  # only bookkeeping files
])
def test_expand_errors_name_the_flag_and_the_path(tmp_path, pattern, message):
  files.write_text(str(tmp_path / "_LOCK"), ["x"])
  with pytest.raises(InputError, match=message):
    inputs.expand(pattern.format(d=tmp_path), "--edges")


def test_check_tfrecord_reads_the_first_frame(tmp_path):
  good = files.write_tfrecord(str(tmp_path / "good.tfrecord"), [b"one", b"two"])
  empty = files.write_tfrecord(str(tmp_path / "empty.tfrecord"), [])
  inputs.check_tfrecord(good)
  inputs.check_tfrecord(empty)  # no records: still a TFRecord file
  text = files.write_text(str(tmp_path / "text.tfrecord"), ["src,dst,weight", "a,b,1"])
  with pytest.raises(InputError, match=r"^.*/text\.tfrecord is not a TFRecord file \("):
    inputs.check_tfrecord(text)


def test_check_readable_refuses_a_folder(tmp_path):
  (tmp_path / "d").mkdir()
  with pytest.raises(InputError, match=r"^cannot read .*/d: "):
    inputs.check_readable(str(tmp_path / "d"))


def test_tfrecords_yields_every_record_and_names_a_corrupt_file(tmp_path):
  a = files.write_tfrecord(str(tmp_path / "a.tfrecord"), [b"1", b"2"])
  b = files.write_tfrecord(str(tmp_path / "b.tfrecord"), [b"3"])
  assert list(inputs.tfrecords([a, b])) == [b"1", b"2", b"3"]
  files.write_damaged_tfrecord(str(tmp_path / "bad.tfrecord"), [b"x", b"y"], bad_checksum=1)
  with pytest.raises(InputError, match=r"^.*/bad\.tfrecord: corrupt TFRecord \("):
    list(inputs.tfrecords([str(tmp_path / "bad.tfrecord")]))


def test_check_files_checks_each_file(tmp_path):
  good = files.write_tfrecord(str(tmp_path / "f-0.tfrecord"), [b"r"])
  assert inputs.check_files(f"{tmp_path}/f-*.tfrecord", "--features", tfrecord=True) == [good]
  files.write_text(str(tmp_path / "f-1.tfrecord"), ["not a tfrecord"])
  with pytest.raises(InputError, match=r"f-1\.tfrecord is not a TFRecord file"):
    inputs.check_files(f"{tmp_path}/f-*.tfrecord", "--features", tfrecord=True)
  assert len(inputs.check_files(f"{tmp_path}/f-*.tfrecord", "--x", tfrecord=False)) == 2
