"""Training-example generation: smart triplets (GCML), random triplets (CDML),
cluster-labelled examples (CLC), entered through `stage.py` (`run`).

Modules, in the order data flows through them (the cluster assignment table,
contract 4, is read by `pipelines/io/cluster_tables/reader.py`):

* `items`: one `ItemInfo` per train item with features (dense rank, cluster
  path, L0-reservoir flag); `DenseRanks`.
* `reservoirs`: bounded bottom-k-by-hash samples of clusters and children.
* `skew_join`: a join that fans out hot keys (popular items, big clusters).
* `positives`: anchors, positives (weighted bottom-k per anchor, a combiner),
  exact neighbour counts, and the exact `--num_triplets` cap.
* `smart_negatives`: sibling-cluster negatives with exact, counted fall-backs.
* `random_negatives`: uniform negatives by dense rank.
* `join_features`: feature join and record layouts (contracts 5 and 6).
* `triplets`: wires the triplet branch (smart or random) together.
* `cluster_labels`: CLC classes, capped per cluster, and `classes.tsv`.
* `local`: the in-memory engine (`--engine=local`), the same rules and bytes.
"""
