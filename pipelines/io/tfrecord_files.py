"""TFRecord input files, read record by record; corrupt frames are rejections.

Beam's TFRecord source stops the whole pipeline at the first bad checksum, with
a traceback and a hex dump of the record that does not name the file. gcml's
readers go on instead: every corrupt frame becomes a counted `Rejection` whose
record names the file and the byte offset (`rejected/<stage>-*.tsv`):

* `tfrecord_bad_data_checksum`: the record's bytes do not match their
  checksum. Its length was verified, so the record (as `b64:`) is rejected and
  reading goes on with the next one.
* `tfrecord_bad_length_checksum`, `tfrecord_truncated`: the frame's length
  cannot be trusted or the file ends inside it. The next record cannot be
  found, so the rest of the file is rejected as one record.

A file that does not start with a valid frame is refused before the pipeline
starts (`inputs.check_files`). The Beam transform and the in-memory readers
share `record_blocks_or_rejections` (`records_or_rejections`: one record at a
time), so both give the same records and rejections.
"""

from collections.abc import Iterator

from pipelines.io.file_system import FileSystems

from pipelines.io import tfrecord_frames
from pipelines.io.rejected import Rejection, binary_record


def frame_rejection(path: str, frame: tfrecord_frames.CorruptFrame, stage: str) -> Rejection:
  """The rejection of one corrupt frame of `path`.

  Args:
    path: the file.
    frame: the corrupt frame.
    stage: the stage that reads the file.

  Returns:
    The `Rejection` to write.
  """
  if frame.data:
    shown = f"{path} {frame.describe()}: {binary_record(frame.data)}"
  else:
    shown = f"{path} {frame.describe()}: the rest of the file is not read"
  return Rejection(stage, frame.reason, shown)


def record_blocks_or_rejections(path: str, stage: str) -> Iterator[list | Rejection]:
  """Yields the records of one TFRecord file in blocks, and the rejections of its bad frames.

  Args:
    path: one TFRecord file.
    stage: the stage that reads it.

  Yields:
    Lists of consecutive records' bytes (`tfrecord_frames.scan_tfrecord_blocks`),
    or the `Rejection` of a corrupt frame, in file order.
  """
  with FileSystems.open(path) as f:
    for block in tfrecord_frames.scan_tfrecord_blocks(f):
      if isinstance(block, tfrecord_frames.CorruptFrame):
        yield frame_rejection(path, block, stage)
      else:
        yield block


def records_or_rejections(path: str, stage: str) -> Iterator[bytes | Rejection]:
  """`record_blocks_or_rejections` one record at a time.

  Args:
    path: one TFRecord file.
    stage: the stage that reads it.

  Yields:
    Each record's bytes, or the `Rejection` of a corrupt frame.
  """
  for block in record_blocks_or_rejections(path, stage):
    if isinstance(block, Rejection):
      yield block
    else:
      yield from block
