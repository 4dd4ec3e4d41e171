"""BLAKE2b-64 of many keys at once: the values of `pipelines.hashing`.

`blake2b64_rows` hashes messages of at most 128 bytes laid in a zero-padded
byte matrix: batches of `_HASHLIB_ROWS` or more by numpy's BLAKE2b on uint64
lanes (`blake2b_lanes.py`), smaller ones by `hashlib` (8,192 messages a pass,
each hashed from a copy of one empty 8-byte-digest state: 0.30 us per message
on an idle core, against 0.40 when each call parses `digest_size`; numpy pays
~1,500 array operations per pass, and on 2 loaded cores took 1.0-1.3 us per
lane at 20k-500k). Longer
messages go to `hashlib` one by one. The result equals `hashing.blake2b64` bit
for bit (tests compare them on every length and on the pipelines' key shapes).

`keys` builds the messages of `hashing.hash64(seed, *parts)` without a Python
string per key: each part is a constant or an array of byte strings, and the
parts are laid side by side in one zero-padded byte matrix. `uniform`,
`pick`, `weighted_key` and `order_key` then compute the scalar helpers'
values with the same float64 operations in the same order.
"""

import hashlib
import math

import numpy as np

from pipelines import blake2b_lanes, hashing

_BLOCK = 128
_CHUNK = 1 << 13  # messages per hashlib pass: they stay in cache
_HASHLIB_ROWS = 1 << 18  # fewer rows than this: hashlib per message (measured as fast or faster)
_KEYS_CHUNK = 1 << 16  # keys per message block (8 MiB): not one block of n * 128 bytes
_SEP = hashing._SEP.encode("utf-8")  # pylint: disable=protected-access
_SCALE = float(2**64)
_EMPTY_STATE = hashlib.blake2b(digest_size=8)  # copied per message, never updated itself


def _hashlib_rows(block: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """`blake2b64_rows` by `hashlib`, one message at a time (for small batches)."""
  block = np.ascontiguousarray(block, np.uint8)
  rows = block.view(f"S{_BLOCK}").reshape(len(block))  # each row less its trailing NULs
  if np.array_equal(np.strings.str_len(rows), lengths):  # no message ends in NUL (keys' never do)
    messages = rows.tolist()
  else:
    data = block.tobytes()
    messages = [data[start:start + length]
                for start, length in zip(range(0, len(data), _BLOCK), lengths.tolist())]
  digests = []
  append, fresh = digests.append, _EMPTY_STATE.copy
  for m in messages:  # a copied state: a quarter less than parsing `digest_size` per call
    state = fresh()
    state.update(m)
    append(state.digest())
  return np.frombuffer(b"".join(digests), ">u8").astype(np.uint64)


def blake2b64_rows(block: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """`blake2b_lanes.blake2b64_lanes` (same arguments and result), by `hashlib` below `_HASHLIB_ROWS` rows.

  Args and Returns: as `blake2b_lanes.blake2b64_lanes`.
  """
  if len(block) >= _HASHLIB_ROWS:
    return blake2b_lanes.blake2b64_lanes(block, lengths)
  out = np.empty(len(block), np.uint64)
  for start in range(0, len(block), _CHUNK):  # a chunk's messages stay in cache
    out[start:start + _CHUNK] = _hashlib_rows(block[start:start + _CHUNK],
                                              lengths[start:start + _CHUNK])
  return out


def blake2b64_batch(messages) -> np.ndarray:
  """BLAKE2b-64 of each bytes message, as `hashing.blake2b64`.

  Args:
    messages: bytes values.

  Returns:
    A uint64 array, one hash per message.
  """
  messages = list(messages)
  lengths = np.fromiter(map(len, messages), np.int64, len(messages))
  short = lengths <= _BLOCK
  out = np.zeros(len(messages), np.uint64)
  if short.any():
    rows = [m for m, s in zip(messages, short.tolist()) if s]
    block = np.frombuffer(np.array(rows, dtype=f"S{_BLOCK}").tobytes(), np.uint8)
    out[short] = blake2b64_rows(block.reshape(-1, _BLOCK), lengths[short])
  for i in np.flatnonzero(~short).tolist():
    out[i] = hashing.blake2b64(messages[i])
  return out


def encoded(values) -> np.ndarray:
  """The UTF-8 bytes of each value's `str` as a numpy bytes ('S') array, for `keys`.

  Ids never hold NUL (control characters are refused), so numpy's NUL padding
  loses nothing.

  Args:
    values: ids or other key parts.

  Returns:
    The bytes array.
  """
  return np.array([str(v).encode("utf-8") for v in values], dtype=bytes)


def keys(n: int, *parts) -> tuple:
  """The messages of `hash64(seed, *parts)` for n keys, as (block, lengths).

  Args:
    n: number of keys.
    *parts: each a constant (any value, written with `str`) or a length-n
      numpy bytes array (see `encoded`); the seed is the first part.

  Returns:
    (block (n, 128) uint8 holding each message's first 128 bytes, lengths (n,)).
  """
  message, constant = np.full(n, b"", dtype="S1"), b""
  for i, part in enumerate(parts):
    if i:
      constant += _SEP
    if isinstance(part, np.ndarray):
      message = np.strings.add(np.strings.add(message, constant), part.astype(bytes))
      constant = b""
    else:
      constant += str(part).encode("utf-8")
  if constant:
    message = np.strings.add(message, constant)
  lengths = np.strings.str_len(message).astype(np.int64)
  block = np.ascontiguousarray(message.astype(f"S{_BLOCK}")).view(np.uint8)
  return block.reshape(n, _BLOCK), lengths


def blake2b64_strings(values: np.ndarray) -> np.ndarray:
  """`hashing.blake2b64` of each element of a numpy bytes array (e.g. `split.split_hash`).

  Args:
    values: a numpy bytes array.

  Returns:
    A uint64 array.
  """
  out = np.empty(len(values), np.uint64)
  for start in range(0, len(values), _KEYS_CHUNK):
    chunk = values[start:start + _KEYS_CHUNK]
    block, lengths = keys(len(chunk), chunk)
    out[start:start + len(chunk)] = blake2b64_rows(block, np.minimum(lengths, _BLOCK))
    for i in np.flatnonzero(lengths > _BLOCK).tolist():
      out[start + i] = hashing.blake2b64(chunk[i])
  return out


def below(values: np.ndarray, bound: float) -> np.ndarray:
  """Whether each uint64 is < `bound` (a float >= 0), compared exactly as Python compares.

  Args:
    values: a uint64 array.
    bound: the bound.

  Returns:
    A bool array.
  """
  limit = math.ceil(bound)
  if limit > 2**64 - 1:
    return np.ones(len(values), bool)
  return values < np.uint64(limit)


def hash64(n: int, seed: int, *parts) -> np.ndarray:
  """`hashing.hash64(seed, *parts)` for n keys.

  Args:
    n: the number of keys.
    seed: the run's seed.
    *parts: as in `keys`.

  Returns:
    A uint64 array.
  """
  out = np.empty(n, np.uint64)
  for start in range(0, n, _KEYS_CHUNK):  # messages built a chunk at a time: small, reused
    stop = min(n, start + _KEYS_CHUNK)
    chunk = [p[start:stop] if isinstance(p, np.ndarray) else p for p in parts]
    block, lengths = keys(stop - start, seed, *chunk)
    out[start:stop] = blake2b64_rows(block, np.minimum(lengths, _BLOCK))
    for i in np.flatnonzero(lengths > _BLOCK).tolist():
      row = [p[i].decode("utf-8") if isinstance(p, np.ndarray) else p for p in chunk]
      out[start + i] = hashing.hash64(seed, *row)
  return out


def uniform(n: int, seed: int, *parts) -> np.ndarray:
  """`hashing.uniform` for n keys: (h + 0.5) / 2**64 in float64.

  Args:
    n: the number of keys.
    seed: the run's seed.
    *parts: as in `keys`.

  Returns:
    A float64 array in (0, 1).
  """
  return (hash64(n, seed, *parts).astype(np.float64) + 0.5) / _SCALE


def pick(size, n: int, seed: int, *parts) -> np.ndarray:
  """`hashing.pick(size, seed, *parts)` for n keys.

  Args:
    size: the number of choices, an int or an (n,) array.
    n: the number of keys.
    seed: the run's seed.
    *parts: as in `keys`.

  Returns:
    An int64 array of indices.
  """
  size = np.asarray(size, np.int64)
  return np.minimum(size - 1, (uniform(n, seed, *parts) * size).astype(np.int64))


def weighted_key(weight, n: int, seed: int, *parts) -> np.ndarray:
  """`hashing.weighted_key` for n keys: -log(u) / w, with `math.log` as the scalar code.

  Args:
    weight: the weights, a float or an (n,) array.
    n: the number of keys.
    seed: the run's seed.
    *parts: as in `keys`.

  Returns:
    A float64 array of keys.
  """
  logs = np.fromiter(map(math.log, uniform(n, seed, *parts).tolist()), np.float64, n)
  return -logs / np.asarray(weight, np.float64)


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_NIBBLE_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)


def hex16(values: np.ndarray) -> np.ndarray:
  """f"{v:016x}" of each uint64, as a numpy bytes array ('S16').

  Args:
    values: a uint64 array.

  Returns:
    The hex digits.
  """
  nibbles = (values.astype(np.uint64)[:, None] >> _NIBBLE_SHIFTS) & np.uint64(15)
  return np.ascontiguousarray(_HEX[nibbles]).view("S16").reshape(len(values))


def order_key(n: int, seed: int, *parts) -> np.ndarray:
  """`hashing.order_key` for n keys: `hex16` of `hash64(n, seed, "order", *parts)`.

  Args and Returns: as `hash64`; the sort keys come as a numpy bytes array ('S16').
  """
  return hex16(hash64(n, seed, "order", *parts))
