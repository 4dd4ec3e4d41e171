"""BLAKE2b-64: every hash in gcml, and the seeded randomness of the pipelines.

`blake2b64` is the one 64-bit hash. The contracts that name it (the test split,
the clustering tie-break, the IVF-PQ training sample) feed it their own keys;
the seeded helpers below draw every random choice of the example pipelines.

Every random choice (which positives, which reservoir members, which
negative, which triplets survive `--num_triplets`) is a function of the seed
and of stable keys (ids, levels, roles), never of arrival order, bundle
boundaries, worker count or Python's salted `hash()`. That is what makes the
outputs byte-identical for the same inputs and seed on any runner.
"""

import hashlib
import math

_SEP = "\x1f"
_SCALE = float(2**64)


def blake2b64(data: bytes) -> int:
  """The 64-bit BLAKE2b digest of `data` as a big-endian unsigned integer.

  Args:
    data: the message.

  Returns:
    The digest, in [0, 2**64).
  """
  return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def hash64(seed: int, *parts) -> int:
  """BLAKE2b-64 of the seed and the parts (converted with `str`, joined by the unit separator).

  Args:
    seed: the run's seed.
    *parts: the stable keys (ids, levels, roles).

  Returns:
    The hash, in [0, 2**64).
  """
  return blake2b64(_SEP.join([str(seed), *map(str, parts)]).encode("utf-8"))


def uniform(seed: int, *parts) -> float:
  """A uniform number in the open interval (0, 1) from the seed and parts.

  Args:
    seed: the run's seed.
    *parts: the stable keys.

  Returns:
    (hash64 + 0.5) / 2**64.
  """
  return (hash64(seed, *parts) + 0.5) / _SCALE


def pick(n: int, seed: int, *parts) -> int:
  """A uniform index in [0, n).

  Args:
    n: the number of choices (>= 1).
    seed: the run's seed.
    *parts: the stable keys.

  Returns:
    min(n - 1, int(uniform * n)).
  """
  return min(n - 1, int(uniform(seed, *parts) * n))


def weighted_key(weight: float, seed: int, *parts) -> float:
  """Efraimidis-Spirakis key: the k smallest keys are a weighted sample.

  `-log(u) / w` is exponential with rate w; keeping the k smallest keys draws
  k items without replacement with probabilities proportional to weight, and
  it is mergeable (bottom-k of bottom-k's), so it works as a combiner.

  Args:
    weight: the item's weight (> 0).
    seed: the run's seed.
    *parts: the stable keys.

  Returns:
    The key.
  """
  return -math.log(uniform(seed, *parts)) / weight


def order_key(seed: int, *parts) -> str:
  """A sort key that shuffles records across and within output shards.

  Args:
    seed: the run's seed.
    *parts: the record's stable keys.

  Returns:
    16 hex digits.
  """
  return f"{hash64(seed, 'order', *parts):016x}"
