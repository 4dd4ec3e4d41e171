"""`file_system.FileSystems` does on local paths what Beam's `FileSystems` does."""

import gzip
import os

import pytest
from apache_beam.io.filesystems import FileSystems as BeamFileSystems

from pipelines.io import file_system
from pipelines.io.file_system import FileSystems


@pytest.fixture(name="tree")
def _tree(tmp_path):
  for name in ("a/x-00000-of-00002.tsv", "a/x-00001-of-00002.tsv", "a/.tmp-1-x.tsv",
               "a/b/deep.tsv", "a/y.csv", "c.tsv"):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(name)
  return str(tmp_path)


def _matched(filesystems, patterns):
  return [sorted((m.path, m.size_in_bytes) for m in r.metadata_list)
          for r in filesystems.match(patterns)]


@pytest.mark.parametrize("pattern", [
    "a/x-?????-of-?????.tsv", "a/*", "a/**", "a/.tmp-*", "a/[xy]*", "a/[!x]*", "a/", "*.tsv",
    "a/y.csv", "a/none.csv", "a", "nothing/*", "a/b/*.tsv", "**.tsv"])
def test_match_finds_what_beam_finds(tree, pattern):
  pattern = os.path.join(tree, pattern)
  assert _matched(FileSystems, [pattern]) == _matched(BeamFileSystems, [pattern])


def test_translate_pattern_is_beams():
  from apache_beam.io.filesystem import FileSystem  # pylint: disable=import-outside-toplevel
  for pattern in ("a/*.tsv", "a/**", "a/[!x]?", "a/[^x]", "a/[", "a/[]]", "x+y(z).tsv"):
    assert file_system.translate_pattern(pattern) == FileSystem.translate_pattern(pattern)


def test_create_makes_folders_and_open_reads_back(tmp_path):
  path = str(tmp_path / "new" / "deeper" / "f.bin")
  with FileSystems.create(path) as f:
    f.write(b"bytes")
  with FileSystems.open(path) as f:
    assert f.read() == b"bytes"
  assert FileSystems.exists(path) and FileSystems.join(str(tmp_path), "new") == os.path.join(
      str(tmp_path), "new")


def test_compressed_files_go_to_beam(tmp_path):
  path = str(tmp_path / "edges.csv.gz")
  with gzip.open(path, "wb") as f:
    f.write(b"src,dst\n")
  with FileSystems.open(path) as f:
    assert f.read() == b"src,dst\n"
  with FileSystems.open(path, compression_type="uncompressed") as f:
    assert f.read(2) == b"\x1f\x8b"  # the gzip magic: read as is
  assert file_system.is_compressed("A.GZ") and not file_system.is_compressed("a.tsv")


def test_delete_rename_and_mkdirs(tree):
  FileSystems.rename([os.path.join(tree, "c.tsv")], [os.path.join(tree, "d.tsv")])
  assert not os.path.exists(os.path.join(tree, "c.tsv"))
  FileSystems.delete([os.path.join(tree, "a", "x-*"), os.path.join(tree, "a", "b")])
  assert sorted(os.listdir(os.path.join(tree, "a"))) == [".tmp-1-x.tsv", "y.csv"]
  with pytest.raises(OSError, match="No files found to delete"):
    FileSystems.delete([os.path.join(tree, "a", "x-*")])
  FileSystems.mkdirs(os.path.join(tree, "e", "f"))
  with pytest.raises(OSError):
    FileSystems.mkdirs(os.path.join(tree, "e", "f"))


def test_urls_are_not_local():
  assert file_system.is_local("/tmp/a") and file_system.is_local("rel/a")
  assert not file_system.is_local("gs://bucket/a") and not file_system.is_local(" s3://b/a")
