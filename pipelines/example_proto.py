"""The `tf.train.Example` message class built from protobuf alone, without TensorFlow.

`tf_example.parse` needs only the message schema of TensorFlow's
`example.proto` and `feature.proto`; importing it from `tensorflow.core`
imports all of TensorFlow (several CPU seconds per process, most of a small
`gcml examples --engine=local` run). This module declares the same messages
(proto3, same names, field numbers, types, packing and map entry) in a
private descriptor pool, so the installed protobuf parses the same bytes the
same way, errors included (tests compare it with TensorFlow's class).
protobuf is imported when the class is first built, not with this module: the
record writers (`tf_example.encode`, the local engines') write the wire format
themselves, and a run that only writes never loads it.
"""

import functools

_LABEL_OPTIONAL = 1  # descriptor.proto's FieldDescriptorProto.LABEL_OPTIONAL


def _field(message, name: str, number: int, kind: int, label: int = _LABEL_OPTIONAL,
           type_name: str = "", packed: bool = False, oneof: int | None = None) -> None:
  field = message.field.add(name=name, number=number, type=kind, label=label,
                            json_name=name)
  if type_name:
    field.type_name = type_name
  if packed:
    field.options.packed = True
  if oneof is not None:
    field.oneof_index = oneof


def _file():
  """feature.proto and example.proto as one proto3 file of package `tensorflow`.

  Returns:
    The `descriptor_pb2.FileDescriptorProto`.
  """
  from google.protobuf import descriptor_pb2  # pylint: disable=import-outside-toplevel
  field = descriptor_pb2.FieldDescriptorProto
  f = descriptor_pb2.FileDescriptorProto(name="gcml/example_proto.proto", package="tensorflow",
                                         syntax="proto3")
  for name, kind in (("BytesList", field.TYPE_BYTES), ("FloatList", field.TYPE_FLOAT),
                     ("Int64List", field.TYPE_INT64)):
    message = f.message_type.add(name=name)
    _field(message, "value", 1, kind, field.LABEL_REPEATED, packed=kind != field.TYPE_BYTES)
    if kind == field.TYPE_INT64:
      message.field[0].options.jstype = descriptor_pb2.FieldOptions.JS_STRING
  feature = f.message_type.add(name="Feature")
  feature.oneof_decl.add(name="kind")
  for number, (name, type_name) in enumerate((("bytes_list", "BytesList"),
                                              ("float_list", "FloatList"),
                                              ("int64_list", "Int64List")), start=1):
    _field(feature, name, number, field.TYPE_MESSAGE, type_name=f".tensorflow.{type_name}",
           oneof=0)
  features = f.message_type.add(name="Features")
  entry = features.nested_type.add(name="FeatureEntry")
  entry.options.map_entry = True
  _field(entry, "key", 1, field.TYPE_STRING)
  _field(entry, "value", 2, field.TYPE_MESSAGE, type_name=".tensorflow.Feature")
  _field(features, "feature", 1, field.TYPE_MESSAGE, field.LABEL_REPEATED,
         type_name=".tensorflow.Features.FeatureEntry")
  _field(f.message_type.add(name="Example"), "features", 1, field.TYPE_MESSAGE,
         type_name=".tensorflow.Features")
  return f


@functools.cache
def example_class():
  """The `Example` message class (a new private descriptor pool, built once).

  Returns:
    The protobuf message class of `tensorflow.Example`.
  """
  from google.protobuf import descriptor_pool, message_factory  # pylint: disable=import-outside-toplevel
  pool = descriptor_pool.DescriptorPool()
  pool.Add(_file())
  return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))
