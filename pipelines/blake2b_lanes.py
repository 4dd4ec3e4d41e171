"""BLAKE2b-64 in numpy, one message per uint64 lane (`hashing_vectorised`'s large batches).

The BLAKE2b compression (RFC 7693) runs on all lanes at once: unkeyed, 8-byte
digest, so `h0 ^= 0x01010008`; a message of at most 128 bytes is one final
block (counter = its length, zero-padded). The result equals
`hashing.blake2b64` bit for bit (tests compare them on every length).
"""

import numpy as np

_CHUNK = 1 << 13  # lanes per compression pass: the state stays in cache
_IV = np.array([0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B,
                0xA54FF53A5F1D36F1, 0x510E527FADE682D1, 0x9B05688C2B3E6C1F,
                0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179], np.uint64)
_SIGMA = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
          (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3),
          (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4),
          (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8),
          (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13),
          (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9),
          (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11),
          (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10),
          (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5),
          (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0))
_MIX = ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
        (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))


def _rotr(x, n: int, tmp):
  """x = x rotated right by n bits, in place (tmp: scratch of x's shape)."""
  np.left_shift(x, np.uint64(64 - n), out=tmp)
  np.right_shift(x, np.uint64(n), out=x)
  np.bitwise_or(x, tmp, out=x)


def _compress(block: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """h[0] after compressing one final block per row of `block` (n, 128) uint8."""
  n = len(block)
  m = np.ascontiguousarray(block).view("<u8").astype(np.uint64).T.copy()
  v = np.empty((16, n), np.uint64)
  v[:8] = _IV[:, None]
  v[0] ^= np.uint64(0x01010000 ^ 8)
  v[8:] = _IV[:, None]
  h0 = v[0].copy()
  v[12] ^= lengths.astype(np.uint64)
  v[14] = ~v[14]
  tmp = np.empty(n, np.uint64)
  for r in range(12):
    s = _SIGMA[r % 10]
    for i, (a, b, c, d) in enumerate(_MIX):
      va, vb, vc, vd = v[a], v[b], v[c], v[d]
      va += vb
      va += m[s[2 * i]]
      vd ^= va
      _rotr(vd, 32, tmp)
      vc += vd
      vb ^= vc
      _rotr(vb, 24, tmp)
      va += vb
      va += m[s[2 * i + 1]]
      vd ^= va
      _rotr(vd, 16, tmp)
      vc += vd
      vb ^= vc
      _rotr(vb, 63, tmp)
  return h0 ^ v[0] ^ v[8]


def blake2b64_lanes(block: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """BLAKE2b-64 (big-endian uint64) of the first `lengths[i]` bytes of each row.

  Args:
    block: (n, 128) uint8, each message zero-padded to 128 bytes.
    lengths: (n,) message lengths, each in [0, 128].

  Returns:
    (n,) uint64 digests, equal to `hashing.blake2b64` of each message.
  """
  out = np.empty(len(block), np.uint64)
  for start in range(0, len(block), _CHUNK):
    stop = start + _CHUNK
    out[start:stop] = _compress(block[start:stop], lengths[start:stop])
  return out.byteswap()
