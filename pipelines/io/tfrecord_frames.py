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

  Streams: holds one record at a time. The length checksum is checked before
  the length is trusted. A record whose data checksum fails is yielded as a
  `CorruptFrame` and reading goes on; a bad length checksum or a file that
  ends inside a frame yields a `CorruptFrame` and ends the scan.

  Args:
    f: a TFRecord file open for binary reading.

  Yields:
    Each record's bytes, or a `CorruptFrame`.
  """
  pos = 0
  while True:
    head = f.read(12)
    if not head:
      return
    if len(head) < 12:
      yield CorruptFrame(TFRECORD_TRUNCATED, pos)
      return
    length, length_crc = struct.unpack("<QI", head)
    if masked_crc32c(head[:8]) != length_crc:
      yield CorruptFrame(TFRECORD_BAD_LENGTH_CHECKSUM, pos)
      return
    body = f.read(length + 4)
    if len(body) < length + 4:
      yield CorruptFrame(TFRECORD_TRUNCATED, pos)
      return
    record = body[:length]
    if masked_crc32c(record) != struct.unpack("<I", body[length:])[0]:
      yield CorruptFrame(TFRECORD_BAD_DATA_CHECKSUM, pos, record)
    else:
      yield record
    pos += 16 + length


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
