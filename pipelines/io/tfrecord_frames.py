"""TFRecord framing: one record as (length, masked CRC-32C, data, masked CRC-32C), and back.

`tfrecord_frame` writes the layout TensorFlow reads; `scan_tfrecord_blocks`
reads it a block of records at a time (`scan_tfrecords`: record by record),
checking both checksums, and yields a `CorruptFrame` for a frame that fails
them (the readers turn those into rejections, `tfrecord_files.py`);
`read_tfrecords` raises on the first one instead.
"""

import struct
from collections.abc import Iterator
from typing import NamedTuple

import google_crc32c
import numpy as np

from pipelines.io import frame_batches


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


_FIRST_READ = 64 << 10  # bytes of a file's first read: its first record is found quickly
_CHUNK = 4 << 20  # the most bytes read at a time (the reads double up to it)
_LENGTH = struct.Struct("<Q")
_HEAD = struct.Struct("<QI")  # a frame's length, then the masked CRC-32C of those 8 bytes
_FOUR = np.arange(4)
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


def scan_tfrecord_blocks(f) -> Iterator[list | CorruptFrame]:
  """Yields the records of an open TFRecord file, a block at a time, and its corrupt frames.

  Streams: reads 64 KiB, then twice as much each time up to 4 MiB, and frames
  every whole frame a read holds at once (`_block`): one Python step per
  frame walks the length fields, numpy checks the length checksums, one
  C call per record computes its data checksum and numpy compares them. A
  record whose data checksum fails is yielded as a `CorruptFrame` between
  the blocks of the records around it, and reading goes on; a bad length
  checksum or a file that ends inside a frame yields a `CorruptFrame` and
  ends the scan. Holds one read and its records.

  Args:
    f: a TFRecord file open for binary reading.

  Yields:
    Lists of consecutive records' bytes (never empty), or a `CorruptFrame`.
  """
  data, base, size, eof, need = b"", 0, _FIRST_READ, False, 1
  length_crcs = {}  # length -> the masked CRC-32C of its 8 bytes: one checksum per length
  while True:
    parts, have = [data], len(data)
    while not eof and have < need:  # never more than 4 MiB past `need`, whatever a frame claims
      chunk = f.read(size)
      size = min(2 * size, _CHUNK)
      eof = not chunk
      parts.append(chunk)
      have += len(chunk)
    if len(parts) > 1:
      data = b"".join(parts)
    pieces, used, need = _block(data, base, eof, length_crcs)
    yield from pieces
    if not need:
      return
    data, base = data[used:], base + used


def _block(data: bytes, base: int, eof: bool, length_crcs: dict) -> tuple:
  """The whole frames at the start of `data`, checked; `data` starts `base` bytes into the file.

  Returns:
    (the records, in lists, and the corrupt frames, in file order; the bytes
    of `data` framed; the bytes needed from there to frame the next one, or
    0 when the scan ends: a bad length checksum, a truncated frame, the end
    of the file).
  """
  size, pos, records, unpack = len(data), 0, [], _LENGTH.unpack_from
  append = records.append
  while pos <= size - 12:  # walk the lengths, trusted only once checked below
    end = pos + 16 + unpack(data, pos)[0]
    if end > size:
      break
    append(data[pos + 12:end - 4])
    pos = end
  pieces = []
  if records:
    lengths = np.fromiter(map(len, records), np.int64, len(records))
    ends = np.cumsum(lengths + 16)  # each frame's end
    starts = ends - lengths - 16
    buffer = np.frombuffer(data, np.uint8)
    good = _good_lengths(buffer, starts, lengths, length_crcs)
    pieces = _checked_records(records if good == len(records) else records[:good], buffer,
                              ends[:good] - 4, base)
    if good < len(records):
      bad = int(starts[good])
      pieces.append(CorruptFrame(TFRECORD_BAD_LENGTH_CHECKSUM, base + bad))
      return pieces, bad, 0
  left = size - pos
  if left < 12:  # the next frame's head is not all there
    if not eof:
      return pieces, pos, 12
    if left:
      pieces.append(CorruptFrame(TFRECORD_TRUNCATED, base + pos))
    return pieces, pos, 0
  length, length_crc = _HEAD.unpack_from(data, pos)
  if _length_crc(length, length_crcs) != length_crc:
    pieces.append(CorruptFrame(TFRECORD_BAD_LENGTH_CHECKSUM, base + pos))
    return pieces, pos, 0
  if eof:
    pieces.append(CorruptFrame(TFRECORD_TRUNCATED, base + pos))
    return pieces, pos, 0
  return pieces, pos, 16 + length


def _length_crc(length: int, length_crcs: dict) -> int:
  """The masked CRC-32C of a length's 8 bytes, kept in `length_crcs` (4096 at most)."""
  crc = length_crcs.get(length)
  if crc is None:
    crc = masked_crc32c(_LENGTH.pack(length))
    if len(length_crcs) < 4096:
      length_crcs[length] = crc
  return crc


def _u32s(buffer: np.ndarray, at: np.ndarray) -> np.ndarray:
  """The little-endian uint32 at each offset `at` of `buffer`."""
  return buffer[at[:, None] + _FOUR].view("<u4")[:, 0]


def _good_lengths(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                  length_crcs: dict) -> int:
  """How many frames, from the first, have a length that matches its checksum."""
  values, which = frame_batches.distinct(lengths)
  expected = np.array([_length_crc(v, length_crcs) for v in values.tolist()], np.uint32)[which]
  bad = np.flatnonzero(expected != _u32s(buffer, starts + 8))
  return int(bad[0]) if len(bad) else len(starts)


def _checked_records(records: list, buffer: np.ndarray, crc_at: np.ndarray, base: int) -> list:
  """`records` in lists, split by the ones whose data checksum (at `crc_at`) fails."""
  masked = frame_batches.masked(frame_batches.crc32c_each(records))
  pieces, first = [], 0
  for i in np.flatnonzero(masked != _u32s(buffer, crc_at)).tolist():
    if i > first:
      pieces.append(records[first:i])
    offset = base + int(crc_at[i]) - len(records[i]) - 12
    pieces.append(CorruptFrame(TFRECORD_BAD_DATA_CHECKSUM, offset, records[i]))
    first = i + 1
  if first < len(records):
    pieces.append(records[first:] if first else records)
  return pieces


def scan_tfrecords(f) -> Iterator[bytes | CorruptFrame]:
  """`scan_tfrecord_blocks` one record at a time.

  Args:
    f: a TFRecord file open for binary reading.

  Yields:
    Each record's bytes, or a `CorruptFrame`.
  """
  for block in scan_tfrecord_blocks(f):
    if isinstance(block, CorruptFrame):
      yield block
    else:
      yield from block


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
