"""`features.parse_items` gives `parse_item`'s result for every record, plain or not."""

import random
import struct

import numpy as np
import pytest

from pipelines import example_proto
from pipelines.io import feature_batches, features, tf_example
from pipelines.io.modality_spec import Modality
from tests.pipelines.io.feature_records import AUDIO, NAMES, RGB, entry, example, field, floats
from tests.pipelines.io.feature_records import bytes_feature as _id

MODALITIES = (Modality("rgb", 3), Modality("audio", 2))


def _proto_serialized() -> bytes:
  """An Example built and written by protobuf itself (its own map order)."""
  proto = example_proto.example_class()()
  feature = proto.features.feature
  feature["rgb"].float_list.value.extend([1.0, 2.0, 3.0])
  feature["id"].bytes_list.value.append(b"proto")
  feature["audio"].float_list.value.extend([4.0, 5.0])
  feature["labels"].int64_list.value.extend([3, 1])
  return proto.SerializeToString()


PLAIN = {
    "sorted keys, labels": tf_example.encode({"id": "a", "rgb": RGB, "audio": AUDIO,
                                              "labels": [4, 2]}),
    "no labels": tf_example.encode({"id": "b", "rgb": RGB, "audio": AUDIO}),
    "empty labels": tf_example.encode({"id": "c", "rgb": RGB, "audio": AUDIO, "labels": []}),
    "id last, audio first": example(entry("audio", floats(AUDIO)), entry("rgb", floats(RGB)),
                                    entry("id", _id(b"d"))),
    "negative and 64-bit labels": tf_example.encode(
        {"id": "e", "rgb": RGB, "audio": AUDIO, "labels": [-1, 2**63 - 1, 300]}),
    "written by protobuf": _proto_serialized(),
    "a long id": tf_example.encode({"id": "x" * 300, "rgb": RGB, "audio": AUDIO}),
    "at the range limit": tf_example.encode({"id": "f", "rgb": np.float32([2.1, 0, 0]),
                                             "audio": AUDIO}),
}
NOT_PLAIN = {
    "missing modality": tf_example.encode({"id": "g", "rgb": RGB}),
    "NaN": tf_example.encode({"id": "h", "rgb": np.float32([0, np.nan, 0]), "audio": AUDIO}),
    "infinity": tf_example.encode({"id": "i", "rgb": RGB, "audio": np.float32([np.inf, 0])}),
    "out of range": tf_example.encode({"id": "j", "rgb": np.float32([0, 0, -3]), "audio": AUDIO}),
    "just over the limit": tf_example.encode(
        {"id": "k", "rgb": np.float32([np.nextafter(np.float32(2.1), np.float32(3)), 0, 0]),
         "audio": AUDIO}),
    "wrong length": tf_example.encode({"id": "l", "rgb": np.float32([1, 2]), "audio": AUDIO}),
    "non-UTF-8 id": tf_example.encode({"id": b"\xff\xfe", "rgb": RGB, "audio": AUDIO}),
    "empty id": tf_example.encode({"id": b"", "rgb": RGB, "audio": AUDIO}),
    "control character in id": tf_example.encode({"id": "a\tb", "rgb": RGB, "audio": AUDIO}),
    "extra feature": tf_example.encode({"id": "m", "rgb": RGB, "audio": AUDIO,
                                        "other": np.float32([1])}),
    "two ids": tf_example.encode({"id": [b"n", b"o"], "rgb": RGB, "audio": AUDIO}),
    "id twice": example(entry("id", _id(b"p")), entry("rgb", floats(RGB)),
                         entry("audio", floats(AUDIO)), entry("id", _id(b"q"))),
    "modality twice": example(entry("id", _id(b"r")), entry("rgb", floats([9, 9, 9])),
                               entry("audio", floats(AUDIO)), entry("rgb", floats(RGB))),
    "float id": tf_example.encode({"id": np.float32([1]), "rgb": RGB, "audio": AUDIO}),
    "no id": tf_example.encode({"rgb": RGB, "audio": AUDIO}),
    "float labels": tf_example.encode({"id": "s", "rgb": RGB, "audio": AUDIO,
                                       "labels": np.float32([1])}),
    "unpacked floats": example(entry("id", _id(b"t")), entry("audio", floats(AUDIO)), entry(
        "rgb", field(0x12, b"".join(b"\x0d" + struct.pack("<f", v) for v in RGB)))),
    "integer modality": tf_example.encode({"id": "u", "rgb": np.int64([1, 2, 3]),
                                           "audio": AUDIO}),
    "not a proto": b"not a proto",
    "empty record": b"",
    "empty features": b"\x0a\x00",
    "cut short": tf_example.encode({"id": "v", "rgb": RGB, "audio": AUDIO})[:-3],
    "trailing byte": tf_example.encode({"id": "w", "rgb": RGB, "audio": AUDIO}) + b"\x00",
}


def _same(a, b) -> bool:
  if isinstance(a, str) or isinstance(b, str):
    return a == b
  return (a.id == b.id and a.labels == b.labels and a.features.keys() == b.features.keys()
          and all(a.features[k].dtype == b.features[k].dtype == np.float32
                  and a.features[k].tobytes() == b.features[k].tobytes() for k in a.features))


def test_plain_records_take_the_batch_path_and_others_do_not():
  for name, record in PLAIN.items():
    assert feature_batches.plain_record(record, NAMES, b"id", b"labels") is not None, name
  for name in ("missing modality", "wrong length", "non-UTF-8 id", "extra feature", "two ids",
               "id twice", "float labels", "unpacked floats", "not a proto", "cut short",
               "trailing byte", "empty features"):
    assert feature_batches.plain_record(NOT_PLAIN[name], NAMES, b"id", b"labels") is None, name


@pytest.mark.parametrize("max_abs", [2.1, 1e6])
def test_every_record_gets_parse_items_result(max_abs):
  records = list(PLAIN.values()) + list(NOT_PLAIN.values())
  records += records[::-1]  # the batch holds plain and other records in any order
  batch = features.parse_items(records, MODALITIES, max_abs=max_abs)
  one_by_one = [features.parse_item(r, MODALITIES, max_abs=max_abs) for r in records]
  assert len(batch) == len(one_by_one)
  for record, a, b in zip(records, batch, one_by_one):
    assert _same(a, b), (record, a, b)


def test_hand_computed_results():
  items = features.parse_items([PLAIN["negative and 64-bit labels"], PLAIN["written by protobuf"],
                                NOT_PLAIN["NaN"], NOT_PLAIN["non-UTF-8 id"]], MODALITIES)
  assert items[0].id == "e" and items[0].labels == (-1, 2**63 - 1, 300)
  assert items[0].features["rgb"].tolist() == [0.5, -1.0, 2.0]
  assert items[1].id == "proto" and items[1].labels == (3, 1)
  assert items[1].features["audio"].tolist() == [4.0, 5.0]
  assert items[2:] == ["rgb_not_finite", "missing_id"]


def test_other_settings_take_the_exact_path():
  record = PLAIN["sorted keys, labels"]
  same_names = (Modality("rgb", 3), Modality("rgb", 3))
  for modalities in (same_names, (Modality("id", 1),)):
    assert _same(features.parse_items([record], modalities)[0],
                 features.parse_item(record, modalities))


def test_ids_only_gives_the_ids_and_the_same_reasons():
  records = list(PLAIN.values()) + list(NOT_PLAIN.values())
  full = features.parse_items(records, MODALITIES)
  ids = features.parse_items(records, MODALITIES, ids_only=True)
  for a, b in zip(full, ids):
    assert a == b if isinstance(a, str) else a.id == b.id
  assert ids[0] == features.ItemId("a")  # sorted keys, labels: a plain record


def _protobuf_sizes(record: bytes):
  """What `float_sizes` must give for a record protobuf reads: float counts, 0 for other lists."""
  try:
    parsed = tf_example.parse(record)
  except ValueError:
    return None
  return {name: len(v) if hasattr(v, "dtype") else 0 for name, v in parsed.items()}


def test_float_sizes_are_protobuf_s_where_given():
  records = list(PLAIN.values()) + list(NOT_PLAIN.values()) + [
      example(entry("é", floats([1, 2])), entry("ids", field(0x0A, field(0x0A, b"a") + field(
          0x0A, b""))), entry("empty", field(0x12, b""))),  # UTF-8 key, two ids, empty floats
      example(entry("x", field(0x0A, field(0x0A, b"a") + b"\x08\x01"))),  # unknown field in a list
      example(entry("x", field(0x22, b""))),  # another Feature field
      example(entry("x", field(0x12, field(0x0A, b"\x00" * 5)))),  # 5 float bytes
  ]
  for name in PLAIN:  # plain records are read without protobuf
    assert feature_batches.float_sizes(PLAIN[name]) == _protobuf_sizes(PLAIN[name]), name
  rng = random.Random(0)
  for record in records:
    for case in range(60):  # each record as it is, then with a byte changed, cut or added
      damaged = bytearray(record)
      if case and damaged:
        at = rng.randrange(len(damaged))
        action = case % 3
        if action == 0:
          damaged[at] = rng.randrange(256)
        elif action == 1:
          del damaged[at:]
        else:
          damaged.insert(at, rng.randrange(256))
      sizes = feature_batches.float_sizes(bytes(damaged))
      if sizes is not None:  # given only where protobuf reads the record, the same way
        assert sizes == _protobuf_sizes(bytes(damaged)), (record, bytes(damaged))
