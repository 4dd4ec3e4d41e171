"""The validation set: held-out items and their edges, for the trainer's model selection.

`gcml examples --kind=validation` writes, from the validated inputs:

* `OUTPUT/items-*.tfrecord`: one `tf.train.Example` per validation item with
  features: `id` and one float list per modality (contract 2's layout);
* `OUTPUT/edges-*.tsv`: header `src\\tdst`, one line per unique edge between
  two validation items, `src < dst`.

Validation items are the top `--validation_fraction` of the split hash
(`pipelines/split.py`): never in clustering, never in training examples and
never test items. The trainer (`gcml train --validation_data=OUTPUT`) scores
retrieval on them as `gcml evaluate` scores the test items (MAP@60,
NDCG@60) to pick its best step. Memory: two sorted shard writes; no step
collects the items or edges.
"""


ITEMS, EDGES = "items", "edges"
EDGES_HEADER = "src\tdst"
