"""Chunked records and partitioned exchanges: how the Beam engine moves its data.

Beam's Python SDK spends a few microseconds per element at every stage
boundary (encode, decode, bookkeeping), which would cost more than the
algorithm itself. The clustering therefore moves *chunks*: lists of up to
`CHUNK` records. A join or a grouping is an *exchange*: every record goes to
the hash partition of its key (CRC-32, never Python's salted `hash()`), records
are buffered per partition for the bundle and sent as one element per
partition and flush, and one GroupByKey brings a partition's chunks together.
The reduce side first reads the small side (a table: at most the keys of one
partition) into a dict, then streams the large side through it, so a hub with
millions of edges or a root with a million members is streamed, never held,
and a worker holds at most one partition of a table.

`partitions` is chosen when the pipeline is built (default: one per 32 MiB of
input, 8 to 4096), so a partition's table stays small at any scale.
"""

import zlib

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

CHUNK = 4096
FLUSH_RECORDS = 1 << 18
TABLE, QUERY = 0, 1


def partition_of(key: str, partitions: int) -> int:
  """Stable partition of a str key.

  Args:
    key: the key.
    partitions: the number of partitions.

  Returns:
    The partition, CRC-32 of the key modulo `partitions`.
  """
  return zlib.crc32(key.encode("utf-8")) % partitions


def pair_partition(a: str, b: str, partitions: int) -> int:
  """Stable partition of a pair of str keys.

  Args:
    a: the first key.
    b: the second key.
    partitions: the number of partitions.

  Returns:
    The pair's partition.
  """
  return zlib.crc32(b.encode("utf-8"), zlib.crc32(a.encode("utf-8"))) % partitions


def chunks(records):
  """Yields lists of at most CHUNK records.

  Args:
    records: the records, in order.

  Yields:
    Lists of at most CHUNK records.
  """
  if not isinstance(records, list):
    records = list(records)
  for start in range(0, len(records), CHUNK):
    yield records[start:start + CHUNK]


class Chunk(beam.DoFn):
  """Single records -> chunks (within a bundle)."""

  def start_bundle(self):
    self._buffer = []

  def process(self, record):
    self._buffer.append(record)
    if len(self._buffer) >= CHUNK:
      yield self._buffer
      self._buffer = []

  def finish_bundle(self):
    if self._buffer:
      yield GlobalWindows.windowed_value(self._buffer)
    self._buffer = []


class Exchange(beam.DoFn):
  """Chunks -> (partition, (tag, records)).

  gate: an optional side input, a list of counts: nothing is sent unless one
  of them is positive (pointer jumping sends its table only while a node is
  unresolved).
  """

  def __init__(self, key_fn, partitions: int, tag: int):
    self._key_fn, self._partitions, self._tag = key_fn, partitions, tag

  def start_bundle(self):
    self._buffers, self._count = [[] for _ in range(self._partitions)], 0

  def process(self, chunk, gate=(1,)):
    if not any(gate):
      return
    key_fn, partitions, buffers, crc = self._key_fn, self._partitions, self._buffers, zlib.crc32
    for record in chunk:
      buffers[crc(key_fn(record).encode("utf-8")) % partitions].append(record)
    self._count += len(chunk)
    if self._count >= FLUSH_RECORDS:
      yield from self._drain()

  def _drain(self):
    buffers, self._count = self._buffers, 0
    self._buffers = [[] for _ in range(self._partitions)]
    for p, records in enumerate(buffers):
      for part in chunks(records):
        yield p, (self._tag, part)

  def finish_bundle(self):
    for element in self._drain():
      yield GlobalWindows.windowed_value(element)


def exchange(pcoll, label: str, key_fn, partitions: int, tag: int = QUERY, gate=None):
  """Sends chunked records to their partitions (`Exchange`).

  Args:
    pcoll: chunked records.
    label: the step's label.
    key_fn: a record's key, which picks its partition.
    partitions: the number of partitions.
    tag: TABLE or QUERY: what the records are for the receiving side.
    gate: a side input, a list of counts: nothing is sent unless one is
      positive (None: always sent).

  Returns:
    (partition, (tag, records)) per chunk of each partition.
  """
  args = [] if gate is None else [gate]
  return pcoll | label >> beam.ParDo(Exchange(key_fn, partitions, tag), *args)


def group(label: str, *exchanged):
  """Flatten + GroupByKey of exchanged collections: (partition, [(tag, records)]).

  Args:
    label: the step's label.
    *exchanged: `exchange` outputs.

  Returns:
    (partition, [(tag, records)]).
  """
  return (tuple(exchanged)
          | f"{label}Together" >> beam.Flatten()
          | f"{label}ByPartition" >> beam.GroupByKey())


def table_and_queries(tagged, build):
  """Reads TABLE records into `build(records)` calls, then yields QUERY records.

  Args:
    tagged: one partition's [(tag, records)].
    build: called with each list of TABLE records (fills the partition's table).

  Yields:
    The QUERY records, once every TABLE record is built in.
  """
  for tag, records in tagged:
    if tag == TABLE:
      build(records)
  for tag, records in tagged:
    if tag == QUERY:
      yield from records


def records_of(pcoll, label: str):
  """Chunks -> single records.

  Args:
    pcoll: a collection of chunks.
    label: the step's label.

  Returns:
    The collection of single records.
  """
  return pcoll | label >> beam.FlatMap(lambda chunk: chunk)
