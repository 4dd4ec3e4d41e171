"""Cluster tables (contract 4): `writer` (Beam and memory) and `reader`.

Written by the cluster stage under OUTPUT/ (every record goes through
`sharded_io`, so the Beam and the in-memory engine write the same bytes):
* `assignments-*.tsv`  `id\\tl0\\tl1\\tl2`: one line per item of any valid edge;
* `clusters-*.tsv`     `level\\tcluster\\tparent\\tsize`: parent is the cluster
  at the next level (empty at the top), size in items;
* `cluster_sizes-00000-of-00001.tsv`  `level\\tsize\\tclusters`: the histogram
  behind the summary's quantiles and `cluster_sizes.png` (log-log, per level).
Cluster ids are `l{level}-{representative item}`, unique within a level.
"""
