"""The evaluation stage's parts (`gcml evaluate`, entered through `stage.py`).

* `readers`: embeddings, baseline features, labels and test edges, in memory;
* `retrieval`: the cold-start retrieval sets and metrics in memory;
* `beam_engine`: the same retrieval metrics as a Beam pipeline (`--engine=beam`),
  reading its inputs through `beam_inputs`;
* `annotation`: the annotation model trained and scored per input;
* `report`: metrics.md, the charts and the output files;
* `training_summaries`: the trainer's TensorBoard scalars (curves, margins).
"""
