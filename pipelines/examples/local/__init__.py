"""The in-memory engine of `gcml examples` (`--engine=local`).

It applies the rules of the Beam transforms in `pipelines/examples/` to data
held in memory and writes the same bytes: shards, `classes.tsv`,
`rejected/examples-*.tsv`, manifests and `summary.json` counts. Where a rule
is a per-element function of the Beam code (a level's draw, a random rank,
the choice among neighbour-filtered draws) the engine calls that very
function, so the two engines cannot drift apart; grouping, joins, bottom-k
samples and the `--num_triplets` cap are sorts and dictionaries here.

Modules, in the order data flows through them:

* `inputs`: cluster tables (`ReadAssignments`; features: `io.features`).
* `item_infos`: train items, dense ranks, cluster paths.
* `sample_arrays`: the cluster samples (reservoirs) as arrays of ranks.
* `anchors`: train edges, positives per anchor (slots), the cap, the random mix.
* `negatives`: smart negatives level by level for every slot at once, the
  neighbour filter, random negatives.
* `triplet_records`, `records`: triplet and labelled records assembled in bulk
  from per-item blocks, shards written 256 KB at a time.
* `engine`: `run_local`, the whole stage, and the validation set.

Memory: the train items' values as one float32 matrix per modality (the
parsed records are dropped), the edges (two int64 arrays and a float64 array
per unique edge, plus the ids), int64 arrays per slot and per triplet, and
one encoded block per (role, item) of the items in triplets.
"""
