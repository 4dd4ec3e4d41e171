"""Feature records read by layout: many plain records as one matrix of bytes.

`feature_batches.plain_record` walks one record's wire format in Python
(about 13 µs a record). Records written by one writer differ only in their
values: `plain_records` stacks the records of one length as a uint8 matrix,
takes the first one's layout (where its id, float payloads and labels lie,
`record_layout`), and compares every other record's structure bytes (tags,
lengths, keys: all bytes but those spans) with it at once. A record with the
same structure is read by `plain_record` the same way, so it is plain exactly
when its id passes `item_ids.decode_id` and its labels are well-formed packed
varints: ids of printable ASCII without space (which `decode_id` keeps as
they are) and labels are checked and read by columns. Any other record (another
layout, past the few tried per length, another id, malformed labels) goes
through `plain_record` itself, so the result is `plain_record`'s for every
record (`tests/pipelines/io/test_feature_layouts.py`).
"""

import numpy as np

from pipelines.io import feature_batches, frame_batches  # pylint: disable=protected-access


def record_layout(data: bytes, names: dict, id_key: bytes, labels_key: bytes):
  """Where a plain record's variable bytes lie: the id, each payload, the labels.

  Every other byte of the record (tags, lengths, keys) is its structure: a
  record of the same length with the same structure bytes is read by
  `plain_record` the same way, so it is plain exactly when its id passes
  `item_ids.decode_id` and its labels payload is well-formed packed varints.

  Args:
    data: a serialized record.
    names: modality name (UTF-8) -> its payload's size in bytes.
    id_key: the id feature's name (UTF-8).
    labels_key: the labels feature's name (UTF-8).

  Returns:
    (id span, {name: payload span}, labels span or None), spans as (start,
    end); None when the record is not plain or holds the labels key twice.
  """
  try:
    if feature_batches.plain_record(data, names, id_key, labels_key) is None:
      return None
    entries = feature_batches._entries(data)
  except IndexError:
    return None
  if sum(1 for key, *_ in entries if key == labels_key) > 1:
    return None
  spans, labels, ident = {}, None, None
  for key, _, start, end in entries:
    if start == end:
      continue  # an empty labels list: structure only
    _, payload = feature_batches._varint(data, start + 1)
    if key == id_key:
      ident = (payload, end)
    elif key == labels_key:
      labels = (payload, end)
    else:
      spans[key] = (payload, end)
  return ident, spans, labels


def _packed_int64s(block: np.ndarray, with_labels: bool = True):
  """Each row of `block` (uint8) read as packed int64 varints, as `_int64s` reads them.

  Returns:
    (rows read: a bool per row, False where `_int64s` gives None; the labels
    tuple of each row read, or None without `with_labels`).
  """
  if not block.shape[1]:
    return np.ones(len(block), bool), [()] * len(block) if with_labels else None
  ends = block < 0x80
  ok = ends[:, -1].copy()
  if block.shape[1] >= 10:  # a varint of over 10 bytes
    ok &= ~np.lib.stride_tricks.sliding_window_view(~ends, 10, axis=1).all(-1).any(-1)
  if not with_labels:
    return ok, None
  block, ends = block[ok], ends[ok]
  flat, flat_ends = block.ravel(), ends.ravel()
  starts = np.flatnonzero(np.concatenate(([True], flat_ends[:-1])))
  which = np.cumsum(flat_ends) - flat_ends
  shift = (np.arange(len(flat)) - starts[which]).astype(np.uint64) * np.uint64(7)
  parts = (flat & 0x7F).astype(np.uint64) << shift
  values = np.bitwise_or.reduceat(parts, starts).view(np.int64) if len(starts) else parts
  return ok, _tuples(values, ends.sum(axis=1))


def _tuples(values: np.ndarray, counts: np.ndarray) -> list:
  """`values` cut into tuples of `counts[i]` values, in order; rows of one count made at once."""
  found, which = frame_batches.distinct(counts)
  if len(found) < 2:
    return list(map(tuple, values.reshape(len(counts), -1).tolist()))
  order = np.argsort(which, kind="stable")  # the rows by count
  firsts = (np.cumsum(counts) - counts)[order]
  made, at = [], 0
  for count, rows in zip(found.tolist(), np.bincount(which).tolist()):
    columns = firsts[at:at + rows, None] + np.arange(count)
    made.extend(map(tuple, values[columns].tolist()))
    at += rows
  rank = np.empty(len(order), np.int64)
  rank[order] = np.arange(len(order))
  return list(map(made.__getitem__, rank.tolist()))


def _same_layout(matrix: np.ndarray, rows: np.ndarray, layout, with_labels: bool):
  """The records of `rows` read by one layout.

  Returns:
    (the rows read, the other rows, their ids, labels (None without
    `with_labels`), {name: payloads}).
  """
  (id_start, id_end), spans, labels_span = layout
  raw = matrix[rows, id_start:id_end]
  ok = ((raw >= 0x21) & (raw <= 0x7E)).all(axis=1)  # ASCII without space or control: kept as is
  given, rows = rows, rows[ok]
  labels = [()] * len(rows) if with_labels else None
  if labels_span is not None:
    read, labels = _packed_int64s(matrix[rows, labels_span[0]:labels_span[1]], with_labels)
    rows = rows[read]
    ok[ok] = read
  width = id_end - id_start
  ids = np.ascontiguousarray(matrix[rows, id_start:id_end]).view(f"S{width}").reshape(-1)
  payloads = {name: np.ascontiguousarray(matrix[rows, start:end])
              for name, (start, end) in spans.items()}
  ids = ids.astype(f"U{width}").tolist()  # no NUL to strip: ASCII from 0x21
  return rows, given[~ok], ids, labels, payloads


def _same_structure(matrix: np.ndarray, left: np.ndarray, layout) -> np.ndarray:
  """Which rows `left` of `matrix` have the structure bytes of row `left[0]` (`layout`'s)."""
  spans = sorted([layout[0], *layout[1].values()] + ([layout[2]] if layout[2] else []))
  rows = matrix if len(left) == len(matrix) else matrix[left]  # `left` is increasing
  same, start = np.ones(len(left), bool), 0
  for end, after in spans + [(matrix.shape[1], matrix.shape[1])]:
    if end > start:  # the structure bytes between two spans
      same &= (rows[:, start:end] == rows[0, start:end]).all(axis=1)
    start = after
  return same


def plain_records(records: list, names: dict, id_key: bytes, labels_key: bytes,
                  layouts: int = 4, with_labels: bool = True):
  """`plain_record` for many records, most of them read as matrices of bytes.

  Records of one length are stacked; the first one's layout (`record_layout`)
  is compared with every other's structure bytes at once, and the records
  that match, with an ASCII id (no space, no control character) and
  well-formed labels, are read by columns. Up to `layouts` layouts are tried
  per length; every other record goes through `plain_record` itself.

  Args:
    records: serialized records.
    names: modality name (UTF-8) -> its payload's size in bytes.
    id_key: the id feature's name (UTF-8).
    labels_key: the labels feature's name (UTF-8).
    layouts: layouts tried per record length.
    with_labels: return the labels; without, they are still checked (a
      record with malformed labels is not plain) but not made into tuples.

  Returns:
    (the plain records' indices, increasing; their ids; their labels, or
    None without `with_labels`; {name: a uint8 matrix of their payloads, one
    row each}).
  """
  lengths = np.fromiter(map(len, records), np.int64, len(records))
  by_length = np.argsort(lengths, kind="stable")  # each length's records in order
  bounds = np.flatnonzero(np.diff(lengths[by_length])) + 1
  parts, loose = [], []
  for where in np.split(by_length, bounds) if len(records) else []:
    length = int(lengths[where[0]])
    if not length:
      loose.extend(where.tolist())
      continue
    matrix = np.frombuffer(b"".join([records[i] for i in where.tolist()]), np.uint8
                           ).reshape(-1, length)
    left = np.arange(len(where))
    for _ in range(layouts):
      if not len(left):
        break
      layout = record_layout(records[where[left[0]]], names, id_key, labels_key)
      if layout is None:
        loose.append(int(where[left[0]]))
        left = left[1:]
        continue
      same = _same_structure(matrix, left, layout)
      rows, others, ids, labels, payloads = _same_layout(matrix, left[same], layout,
                                                         with_labels)
      parts.append((where[rows], ids, labels, payloads))
      loose.extend(where[others].tolist())
      left = left[~same]
    loose.extend(where[left].tolist())
  singles = [(i, feature_batches.plain_record(records[i], names, id_key, labels_key))
             for i in sorted(loose)]
  singles = [(i, p) for i, p in singles if p is not None]
  if singles:
    parts.append((np.array([i for i, _ in singles], np.int64), [p[0] for _, p in singles],
                  [p[2] for _, p in singles],
                  {name: np.frombuffer(b"".join([p[1][name] for _, p in singles]), np.uint8
                                       ).reshape(len(singles), size)
                   for name, size in names.items()}))
  if not parts:
    return (np.zeros(0, np.int64), [], [] if with_labels else None,
            {n: np.zeros((0, s), np.uint8) for n, s in names.items()})
  index = np.concatenate([p[0] for p in parts])
  order = np.argsort(index, kind="stable")
  order_list = order.tolist()
  ids = [x for p in parts for x in p[1]]
  labels = [x for p in parts for x in p[2]] if with_labels else None
  return (index[order], [ids[i] for i in order_list],
          [labels[i] for i in order_list] if with_labels else None,
          {name: np.concatenate([p[3][name] for p in parts])[order] for name in names})
