"""The `tf.train.Example` message class built from protobuf alone, without TensorFlow.

`tf_example.parse` needs only the message schema of TensorFlow's
`example.proto` and `feature.proto`; importing it from `tensorflow.core`
imports all of TensorFlow (several CPU seconds per process, most of a small
`gcml examples --engine=local` run). This module declares the same messages
(proto3, same names, field numbers, types, packing and map entry) in a
private descriptor pool, so the installed protobuf parses the same bytes the
same way, errors included (tests compare it with TensorFlow's class).
"""

import functools

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(message, name: str, number: int, kind: int, label: int = _F.LABEL_OPTIONAL,
           type_name: str = "", packed: bool = False, oneof: int | None = None) -> None:
  field = message.field.add(name=name, number=number, type=kind, label=label,
                            json_name=name)
  if type_name:
    field.type_name = type_name
  if packed:
    field.options.packed = True
  if oneof is not None:
    field.oneof_index = oneof


def _file() -> descriptor_pb2.FileDescriptorProto:
  """feature.proto and example.proto as one proto3 file of package `tensorflow`."""
  f = descriptor_pb2.FileDescriptorProto(name="gcml/example_proto.proto", package="tensorflow",
                                         syntax="proto3")
  for name, kind in (("BytesList", _F.TYPE_BYTES), ("FloatList", _F.TYPE_FLOAT),
                     ("Int64List", _F.TYPE_INT64)):
    message = f.message_type.add(name=name)
    _field(message, "value", 1, kind, _F.LABEL_REPEATED, packed=kind != _F.TYPE_BYTES)
    if kind == _F.TYPE_INT64:
      message.field[0].options.jstype = descriptor_pb2.FieldOptions.JS_STRING
  feature = f.message_type.add(name="Feature")
  feature.oneof_decl.add(name="kind")
  for number, (name, type_name) in enumerate((("bytes_list", "BytesList"),
                                              ("float_list", "FloatList"),
                                              ("int64_list", "Int64List")), start=1):
    _field(feature, name, number, _F.TYPE_MESSAGE, type_name=f".tensorflow.{type_name}",
           oneof=0)
  features = f.message_type.add(name="Features")
  entry = features.nested_type.add(name="FeatureEntry")
  entry.options.map_entry = True
  _field(entry, "key", 1, _F.TYPE_STRING)
  _field(entry, "value", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.Feature")
  _field(features, "feature", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED,
         type_name=".tensorflow.Features.FeatureEntry")
  _field(f.message_type.add(name="Example"), "features", 1, _F.TYPE_MESSAGE,
         type_name=".tensorflow.Features")
  return f


@functools.cache
def example_class():
  """The `Example` message class (a new private descriptor pool, built once).

  Returns:
    The protobuf message class of `tensorflow.Example`.
  """
  pool = descriptor_pool.DescriptorPool()
  pool.Add(_file())
  return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))
