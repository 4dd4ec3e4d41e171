"""`pipelines/io/record_checks.py`: one record-checking path, in memory and on Beam, with the
same items, rejections and counts."""

import base64
from typing import NamedTuple

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.errors import InputError
from pipelines.io.record_checks import (DUPLICATE_ID, RecordCheck, check, keep_first,
                                        read_checked_ids_local, read_checked_local)
from pipelines.io.record_checks_beam import ReadCheckedRecords
from pipelines.io.rejected import Rejection
from tests.pipelines import files


class Item(NamedTuple):
  id: str
  value: str


def _parse(record: bytes):
  """`id:value` records; anything else is refused as `no_colon`."""
  item_id, colon, value = record.decode().partition(":")
  return Item(item_id, value) if colon else "no_colon"


CHECKS = RecordCheck(parse=_parse, shown=lambda record: f"shown:{record.decode()}",
                     valid_key="items/valid")
# a:1 and a:0 share an id: a:0's bytes sort first, so it is kept.
RECORDS = [b"a:1", b"b:2", b"bad", b"a:0"]
ITEMS = [Item("a", "0"), Item("b", "2")]
REJECTIONS = [Rejection("s", "no_colon", "shown:bad"),
              Rejection("s", DUPLICATE_ID, "id=a b64:" + base64.b64encode(b"a:1").decode())]


def test_check_gives_the_item_or_its_rejection():
  assert check(b"x:9", CHECKS, "s") == Item("x", "9")
  assert check(b"x9", CHECKS, "s") == Rejection("s", "no_colon", "shown:x9")


def test_keep_first_keeps_the_bytes_that_sort_first():
  item, rejected = keep_first("a", [(b"a:1", Item("a", "1")), (b"a:0", Item("a", "0"))], "s")
  assert item == Item("a", "0")
  assert rejected == [REJECTIONS[1]]


def test_in_memory(tmp_path):
  paths = [files.write_tfrecord(f"{tmp_path}/f-0.tfrecord", RECORDS[:2]),
           files.write_tfrecord(f"{tmp_path}/f-1.tfrecord", RECORDS[2:])]
  items, rejections, counts = read_checked_local(paths, CHECKS, "s")
  assert sorted(items.values()) == ITEMS
  assert sorted(rejections) == sorted(REJECTIONS)
  assert counts == {"items/valid": 2}


def test_ids_only_reject_the_same_records(tmp_path):
  # c comes three times (c:9 kept), a twice across files; the second pass reads them again.
  records = RECORDS + [b"c:9", b"c:;", b"c:z"]
  paths = [files.write_tfrecord(f"{tmp_path}/f-0.tfrecord", records[:2] + records[5:]),
           files.write_tfrecord(f"{tmp_path}/f-1.tfrecord", records[2:5])]
  first, rejections, counts = read_checked_ids_local(paths, CHECKS, "s")
  # numbered in read order: a:1 b:2 c:; c:z (file 0), bad a:0 c:9 (file 1)
  assert first == {"a": 0, "b": 1, "c": 2}
  shown = {r: "b64:" + base64.b64encode(r).decode() for r in (b"c:;", b"c:z")}
  assert sorted(rejections) == sorted(REJECTIONS + [
      Rejection("s", DUPLICATE_ID, f"id=c {shown[b'c:;']}"),
      Rejection("s", DUPLICATE_ID, f"id=c {shown[b'c:z']}")])
  assert counts == {"items/valid": 3}
  _, expected, _ = read_checked_local(paths, CHECKS, "s")
  assert sorted(rejections) == sorted(expected)


def test_no_items_no_count(tmp_path):
  path = files.write_tfrecord(f"{tmp_path}/f.tfrecord", [b"bad"])
  assert read_checked_local([path], CHECKS, "s") == ({}, [REJECTIONS[0]], {})


def test_an_unreadable_file_is_one_line(tmp_path):
  (tmp_path / "dir.tfrecord").mkdir()
  with pytest.raises(InputError, match=r"^cannot read .*dir\.tfrecord: IsADirectoryError"):
    read_checked_local([str(tmp_path / "dir.tfrecord")], CHECKS, "s")


def test_beam_gives_what_memory_gives(tmp_path):
  paths = [files.write_tfrecord(f"{tmp_path}/f-0.tfrecord", RECORDS[:2]),
           files.write_tfrecord(f"{tmp_path}/f-1.tfrecord", RECORDS[2:])]
  with TestPipeline(runner="FnApiRunner") as p:
    got = p | ReadCheckedRecords(paths, CHECKS, "s", namespace="test")
    assert_that(got.items, equal_to(ITEMS), label="Items")
    assert_that(got.rejected, equal_to(REJECTIONS), label="Rejected")
    assert_that(got.stats | beam.CombinePerKey(sum), equal_to([("items/valid", 2)]),
                label="Stats")
