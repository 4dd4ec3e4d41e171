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
share `records_or_rejections`, so both give the same records and rejections.
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


def records_or_rejections(path: str, stage: str) -> Iterator[bytes | Rejection]:
  """Yields the records of one TFRecord file and the rejections of its bad frames.

  Args:
    path: one TFRecord file.
    stage: the stage that reads it.

  Yields:
    Each record's bytes, or the `Rejection` of a corrupt frame.
  """
  with FileSystems.open(path) as f:
    for record in tfrecord_frames.scan_tfrecords(f):
      if isinstance(record, tfrecord_frames.CorruptFrame):
        yield frame_rejection(path, record, stage)
      else:
        yield record
