"""Fixed batches: batches of (id, value) pairs that depend only on the ids.

A matrix product's last bits depend on the batch a row sits in (its size
and the row's place), and Beam's batching depends on bundling and timing.
So `gcml export` runs its model calls and related-items query batches on
batches formed from the ids alone: the N ids are hashed into
ceil(N / batch_size) buckets, each bucket is sorted by id and cut into
batches of at most `batch_size`. The in-memory engine forms the very same
batches (`fixed_batches_local`), so both write the same bytes.
"""

from __future__ import annotations

from pipelines import hashing


def batch_of(item_id: str, num_batches: int) -> int:
  """The batch bucket of an item: BLAKE2b-64 of its id modulo the bucket count.

  Args:
    item_id: the item.
    num_batches: the number of buckets.

  Returns:
    The bucket, in [0, num_batches).
  """
  return hashing.blake2b64(b"gcml-batch:" + item_id.encode("utf-8")) % num_batches


def split_bucket(bucket, batch_size: int):
  """(bucket, [(id, value)]) -> lists of at most `batch_size` pairs, ids ascending.

  Args:
    bucket: (bucket number, its (id, value) pairs).
    batch_size: the most pairs per batch.

  Returns:
    A generator of batches.
  """
  pairs = sorted(bucket[1], key=lambda kv: kv[0])
  for start in range(0, len(pairs), batch_size):
    yield pairs[start:start + batch_size]


def fixed_batches_local(ids, batch_size: int) -> list[list]:
  """The batches `FixedBatches` forms, in memory: lists of ids, each sorted.

  Args:
    ids: the distinct item ids.
    batch_size: the most ids per batch.

  Returns:
    The batches, ordered by bucket then by position in the bucket.
  """
  ids = list(ids)
  num_batches = max(1, -(-len(ids) // batch_size))
  buckets = {}
  for item_id in ids:
    buckets.setdefault(batch_of(item_id, num_batches), []).append(item_id)
  out = []
  for bucket in sorted(buckets):
    members = sorted(buckets[bucket])
    out += [members[s:s + batch_size] for s in range(0, len(members), batch_size)]
  return out
