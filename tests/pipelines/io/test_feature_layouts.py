"""`feature_layouts.plain_records` gives `plain_record`'s result for every record of a batch."""

import numpy as np

from pipelines.io import feature_batches, feature_layouts
from tests.pipelines.io.feature_records import AUDIO, NAMES, RGB
from tests.pipelines.io.feature_records import record as _record


# One layout (4-byte ids, 2 bytes of labels) with every kind of id and labels in it.
SAME_LAYOUT = [
    _record(b"a001", b"\x01\x02"),  # labels (1, 2)
    _record(b"a002", b"\xac\x02"),  # (300,)
    _record(b"a b3", b"\x05\x06"),  # a space: decode_id keeps it, through plain_record
    _record(b" a04", b"\x05\x06"),  # stripped to `a04` by decode_id
    _record(b"a\t05", b"\x05\x06"),  # control character: not plain
    _record(b"\xc3\xa9a6", b"\x05\x06"),  # UTF-8 `é`: plain, through plain_record
    _record(b"\xff\xfea7", b"\x05\x06"),  # not UTF-8: not plain
    _record(b"a008", b"\x80\x01"),  # (128,)
    _record(b"a009", b"\x01\x80"),  # cut inside a varint: not plain
]
TEN_BYTES = b"\xff" * 9 + b"\x01"  # -1 as int64
OTHERS = [
    _record(b"b1", TEN_BYTES + b"\x07"),  # (-1, 7)
    _record(b"b2", b"\xff" * 10 + b"\x01"),  # an 11-byte varint: not plain
    _record(b"b3", b"\x80" * 10 + b"\x00"),  # the same length, also 11 bytes: not plain
    _record(b"c1"),  # no labels
    _record(b"c2", b""),  # empty packed labels
    _record(b"c3", rgb=[np.nan, 0, 0]),  # plain (finite values are checked later)
    _record(b"d", b"\x01") + b"\x00",  # trailing byte
    b"",
    b"not a proto",
    _record(b"e", b"\x01")[:-5],
]


def _expected(records):
  return [feature_batches.plain_record(r, NAMES, b"id", b"labels") for r in records]


def _check(records, layouts=4):
  rows, ids, labels, payloads = feature_layouts.plain_records(records, NAMES, b"id", b"labels",
                                                              layouts)
  expected = _expected(records)
  assert rows.tolist() == [i for i, e in enumerate(expected) if e is not None]
  assert ids == [e[0] for e in expected if e is not None]
  assert labels == [e[2] for e in expected if e is not None]
  for name in NAMES:
    assert payloads[name].dtype == np.uint8
    assert [bytes(row) for row in payloads[name]] == [e[1][name] for e in expected
                                                       if e is not None]
  return rows, ids, labels


def test_every_record_as_plain_record_reads_it():
  records = SAME_LAYOUT + OTHERS
  _check(records)
  _check(records[::-1])  # another record of the layout comes first
  _check(records, layouts=1)  # fewer layouts tried: more records one by one
  _check(SAME_LAYOUT[4:] + SAME_LAYOUT[:4])  # the first record of the length is not plain


def test_hand_computed_ids_and_labels():
  rows, ids, labels = _check(SAME_LAYOUT + OTHERS[:5])
  assert rows.tolist() == [0, 1, 2, 3, 5, 7, 9, 12, 13]
  assert ids == ["a001", "a002", "a b3", "a04", "éa6", "a008", "b1", "c1", "c2"]
  assert labels == [(1, 2), (300,), (5, 6), (5, 6), (5, 6), (128,), (-1, 7), (), ()]


def test_no_plain_record():
  rows, ids, labels, payloads = feature_layouts.plain_records([b"", b"x"], NAMES, b"id",
                                                              b"labels")
  assert rows.tolist() == [] and ids == [] and labels == []
  assert {name: m.shape for name, m in payloads.items()} == {b"rgb": (0, 12), b"audio": (0, 8)}


def test_record_layout_spans():
  record = _record(b"a001", b"\x01\x02")
  (id_start, id_end), spans, labels = feature_layouts.record_layout(record, NAMES, b"id",
                                                                    b"labels")
  assert record[id_start:id_end] == b"a001"
  assert record[spans[b"rgb"][0]:spans[b"rgb"][1]] == RGB.tobytes()
  assert record[spans[b"audio"][0]:spans[b"audio"][1]] == AUDIO.tobytes()
  assert record[labels[0]:labels[1]] == b"\x01\x02"
  assert feature_layouts.record_layout(b"x", NAMES, b"id", b"labels") is None


def test_without_labels_the_same_records_are_plain():
  records = SAME_LAYOUT + OTHERS
  with_labels = feature_layouts.plain_records(records, NAMES, b"id", b"labels")
  rows, ids, labels, payloads = feature_layouts.plain_records(records, NAMES, b"id", b"labels",
                                                              with_labels=False)
  assert labels is None
  assert rows.tolist() == with_labels[0].tolist() and ids == with_labels[1]
  assert all((payloads[n] == with_labels[3][n]).all() for n in NAMES)
