"""`example_proto`: the protobuf-only Example parses bytes as TensorFlow's class does."""

import numpy as np
from google.protobuf import descriptor_pb2

from pipelines import example_proto
from pipelines.io import tf_example


def _outcome(cls, data: bytes):
  message = cls()
  try:
    message.ParseFromString(data)
  except Exception as e:  # pylint: disable=broad-except
    return ("error", type(e).__name__)
  return message.SerializeToString(deterministic=True)




def test_same_schema_as_tensorflow():
  from tensorflow.core.example import example_pb2  # pylint: disable=import-outside-toplevel
  ours = example_proto.example_class().DESCRIPTOR
  theirs = example_pb2.Example.DESCRIPTOR
  for name in ("Example", "Features", "Feature", "BytesList", "FloatList", "Int64List"):
    a = descriptor_pb2.DescriptorProto()
    b = descriptor_pb2.DescriptorProto()
    ours.file.pool.FindMessageTypeByName(f"tensorflow.{name}").CopyToProto(a)
    theirs.file.pool.FindMessageTypeByName(f"tensorflow.{name}").CopyToProto(b)
    for proto in (a, b):
      for field in list(proto.field) + [f for n in proto.nested_type for f in n.field]:
        field.ClearField("json_name")
    assert a == b, name
  a, b = descriptor_pb2.FileDescriptorProto(), descriptor_pb2.FileDescriptorProto()
  ours.file.CopyToProto(a)
  theirs.file.CopyToProto(b)
  assert a.syntax == b.syntax == "proto3"


def test_parses_mutated_records_like_tensorflow():
  from tensorflow.core.example import example_pb2  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(0)
  good = [tf_example.encode({"id": "é", "x": np.arange(3, dtype=np.float32), "n": [1, 2, -3]}),
          tf_example.encode({"z": [b"q", b"\xff"], "e": []})]
  cases = list(good)
  for record in good:
    cases += [record[:i] for i in range(len(record))]
    for _ in range(300):
      mutated = bytearray(record)
      mutated[rng.integers(len(mutated))] = rng.integers(256)
      cases.append(bytes(mutated))
  cases += [rng.integers(0, 256, rng.integers(0, 40), dtype=np.uint8).tobytes()
            for _ in range(1000)]
  outcomes = [(_outcome(example_proto.example_class(), c), _outcome(example_pb2.Example, c))
              for c in cases]
  assert [i for i, (a, b) in enumerate(outcomes) if a != b] == []
  assert sum(isinstance(a, bytes) for a, _ in outcomes) > 200
  assert sum(isinstance(a, tuple) for a, _ in outcomes) > 200
