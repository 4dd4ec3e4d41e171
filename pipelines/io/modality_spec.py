"""Modalities as names and sizes: the `--modalities` flag, parsed once for every stage.

No Apache Beam or TensorFlow import: the trainer's configuration
(`model/trainer_config.py`) parses the flag with the same rules as the Beam
stages.
"""

from typing import NamedTuple

from pipelines.errors import InputError


class Modality(NamedTuple):
  name: str
  dim: int


DEFAULT_MODALITIES = (Modality("mean_rgb", 1024), Modality("mean_audio", 128))


def parse_modalities(spec: str) -> tuple[Modality, ...]:
  """Parses `name:dim,name:dim` (the `--modalities` flag).

  Args:
    spec: the flag's value.

  Returns:
    The modalities in the order given.

  Raises:
    InputError: a part that is not `name:dim` with dim > 0, or a name given twice.
  """
  out = []
  for part in spec.split(","):
    name, _, dim = part.strip().partition(":")
    name, dim = name.strip(), dim.strip()
    if not name or not dim.isdigit() or int(dim) <= 0:
      raise InputError(f"--modalities: expected name:dim[,name:dim...], got {spec!r}")
    out.append(Modality(name, int(dim)))
  if len({m.name for m in out}) != len(out):
    raise InputError(f"--modalities: a name appears twice in {spec!r}")
  return tuple(out)


def modalities_flag(modalities) -> str:
  """The `--modalities` value of (name, dim) pairs.

  Args:
    modalities: (name, dim) pairs, in order.

  Returns:
    `mean_rgb:1024,mean_audio:128`.
  """
  return ",".join(f"{name}:{dim}" for name, dim in modalities)


def canonical_order(modalities) -> tuple[Modality, ...]:
  """Detected modalities in a fixed order: larger first, then by name.

  A record's features have no order, so detection needs one; this one gives
  YouTube-8M's default (`mean_rgb:1024,mean_audio:128`) for its records.

  Args:
    modalities: (name, dim) pairs, in any order.

  Returns:
    The Modalities, the largest first, then by name.
  """
  return tuple(sorted((Modality(n, int(d)) for n, d in modalities),
                      key=lambda m: (-m.dim, m.name)))


def same(a, b) -> bool:
  """Whether two sets of (name, dim) pairs name the same modalities, in any order.

  Args:
    a: (name, dim) pairs.
    b: (name, dim) pairs.

  Returns:
    True when they are the same.
  """
  return sorted((n, int(d)) for n, d in a) == sorted((n, int(d)) for n, d in b)
