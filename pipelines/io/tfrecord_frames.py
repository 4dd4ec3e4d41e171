"""TFRecord framing: one record as (length, masked CRC-32C, data, masked CRC-32C), and back.

`tfrecord_frame` writes the layout TensorFlow reads; `scan_tfrecords` reads it
record by record, checking both checksums, and yields a `CorruptFrame` for a
frame that fails them (the readers turn those into rejections,
`tfrecord_files.py`); `read_tfrecords` raises on the first one instead.
"""

import struct
from collections.abc import Iterator
from typing import NamedTuple

import google_crc32c


def masked_crc32c(data: bytes) -> int:
  """The masked CRC-32C of the TFRecord format.

  Args:
    data: the bytes to check (a frame's length field or its record).

  Returns:
    The masked checksum, as an unsigned 32-bit integer.
  """
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(record: bytes) -> bytes:
  """Frames one record in the TFRecord layout (length, CRCs, data).

  Args:
    record: the record's bytes.

  Returns:
    The frame: 16 bytes more than the record.
  """
  length = struct.pack("<Q", len(record))
  return (length + struct.pack("<I", masked_crc32c(length)) + record +
          struct.pack("<I", masked_crc32c(record)))


_CHUNK = 4 << 20  # bytes read at a time by `scan_tfrecords`
TFRECORD_BAD_DATA_CHECKSUM = "tfrecord_bad_data_checksum"
TFRECORD_BAD_LENGTH_CHECKSUM = "tfrecord_bad_length_checksum"
TFRECORD_TRUNCATED = "tfrecord_truncated"


class CorruptFrame(NamedTuple):
  """A TFRecord frame that failed its checks, `offset` bytes into the file.

  `data` holds the record when only its data checksum failed (the length was
  verified, so reading goes on after it); otherwise it is empty and nothing
  after `offset` can be read, since the next frame cannot be found.
  """
  reason: str
  offset: int
  data: bytes = b""

  def describe(self) -> str:
    """What failed and where, for a one-line message (`bad data checksum at byte 16`)."""
    what = {TFRECORD_BAD_DATA_CHECKSUM: "bad data checksum",
            TFRECORD_BAD_LENGTH_CHECKSUM: "bad length checksum",
            TFRECORD_TRUNCATED: "truncated record"}[self.reason]
    return f"{what} at byte {self.offset}"


def scan_tfrecords(f) -> Iterator[bytes | CorruptFrame]:
  """Yields the records of an open TFRecord file and its corrupt frames.

  Streams: reads 4 MiB at a time (one read per record cost more than the
  checks) and holds one chunk and one record. The length checksum is checked before
  the length is trusted. A record whose data checksum fails is yielded as a
  `CorruptFrame` and reading goes on; a bad length checksum or a file that
  ends inside a frame yields a `CorruptFrame` and ends the scan.

  Args:
    f: a TFRecord file open for binary reading.

  Yields:
    Each record's bytes, or a `CorruptFrame`.
  """
  reader = _Chunks(f)
  pos = 0
  length_crcs = {}  # length -> the masked CRC-32C of its 8 bytes: one checksum per length
  unpack, value = struct.unpack_from, google_crc32c.value
  while True:
    data, at = reader.data, reader.start
    if len(data) - at < 12:  # the chunk ends inside the frame's head: read on
      have = reader.fill(12)
      if not have:
        return
      if have < 12:
        yield CorruptFrame(TFRECORD_TRUNCATED, pos)
        return
      data, at = reader.data, reader.start
    length, length_crc = unpack("<QI", data, at)
    expected = length_crcs.get(length)
    if expected is None:
      expected = masked_crc32c(data[at:at + 8])
      if expected == length_crc and len(length_crcs) < 4096:
        length_crcs[length] = expected
    if expected != length_crc:
      yield CorruptFrame(TFRECORD_BAD_LENGTH_CHECKSUM, pos)
      return
    if len(data) - at < 16 + length:
      if reader.fill(16 + length) < 16 + length:
        yield CorruptFrame(TFRECORD_TRUNCATED, pos)
        return
      data, at = reader.data, reader.start
    record = data[at + 12:at + 12 + length]
    crc = value(record)
    if ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        != unpack("<I", data, at + 12 + length)[0]):
      yield CorruptFrame(TFRECORD_BAD_DATA_CHECKSUM, pos, record)
    else:
      yield record
    reader.start = at + 16 + length
    pos += 16 + length


class _Chunks:
  """A file read 4 MiB at a time: `data[start:]` holds the bytes not yet used."""

  def __init__(self, f):
    self.f, self.data, self.start, self.eof = f, b"", 0, False

  def fill(self, n: int) -> int:
    """At least n bytes from `start` unless the file ends first; the bytes there."""
    have = len(self.data) - self.start
    if have >= n or self.eof:
      return have
    parts = [self.data[self.start:]]
    while have < n:  # never more than 4 MiB past n, whatever length a frame claims
      chunk = self.f.read(_CHUNK)
      if not chunk:
        self.eof = True
        break
      parts.append(chunk)
      have += len(chunk)
    self.data, self.start = b"".join(parts), 0
    return have


def read_tfrecords(f) -> Iterator[bytes]:
  """Yields the records of an open TFRecord file, checking both checksums.

  Args:
    f: a TFRecord file open for binary reading.

  Yields:
    Each record's bytes.

  Raises:
    ValueError: naming the byte offset of the first truncated or corrupt record.
  """
  for record in scan_tfrecords(f):
    if isinstance(record, CorruptFrame):
      raise ValueError(record.describe())
    yield record
