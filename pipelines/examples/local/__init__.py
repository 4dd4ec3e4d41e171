"""The in-memory engine of `gcml examples` (`--engine=local`).

It applies the rules of the Beam transforms in `pipelines/examples/` to data
held in memory and writes the same bytes: shards, `classes.tsv`,
`rejected/examples-*.tsv`, manifests and `summary.json` counts. Where a rule
is a per-element function of the Beam code (a level's draw, a random rank,
the choice among neighbour-filtered draws) the engine calls that very
function, so the two engines cannot drift apart; grouping, joins, bottom-k
samples and the `--num_triplets` cap are sorts and dictionaries here.

Modules, in the order data flows through them:

* `inputs`: features, cluster tables (`ReadFeatures`, `ReadAssignments`).
* `item_infos`: train items, dense ranks, cluster paths, reservoirs.
* `anchors`: train edges, positives per anchor, the cap, the random mix.
* `negatives`: smart negatives level by level, the neighbour filter, random
  negatives.
* `records`: triplet and labelled records, the validation set, shards
  written one at a time.
* `engine`: `run_local`, the whole stage.

Memory: the features of the train items (as read), the edges (two int64
arrays and a float64 array per unique edge, plus the ids), one small tuple per
(anchor, positive) slot, and one output shard's encoded records at a time.
"""
