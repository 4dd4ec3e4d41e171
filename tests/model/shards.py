"""Helpers shared by the trainer tests (also imported by their subprocess scripts)."""

import os
import socket

from pipelines.io import sharded_io


def write_shards(directory: str, name: str, records: list[bytes], num_shards: int = 2) -> str:
  """Writes records as `directory/name-*.tfrecord` shards; returns that glob."""
  prefix = os.path.join(directory, name)
  sharded_io.write_sorted_shards_local([(f"{i:05d}", r) for i, r in enumerate(records)],
                                       prefix, ".tfrecord", num_shards,
                                       record_format=sharded_io.TFRECORD)
  return prefix + "-*.tfrecord"


def free_ports(n: int) -> list[int]:
  """n distinct free TCP ports on 127.0.0.1."""
  socks = [socket.socket() for _ in range(n)]
  try:
    for s in socks:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in socks]
  finally:
    for s in socks:
      s.close()
