"""A synthetic co-watch world: planted hierarchy, edges, features, labels.

The generator stands in for YouTube-scale data in demos, tests and
benchmarks. It is plain numpy (not Beam): vectorised, chunked into shards, and
each shard is drawn from its own seeded generator, so the files are
byte-identical for a seed whatever the number of processes.

The world:
* A 3-level hierarchy: topics > subtopics > micro-clusters. Micro-cluster
  sizes vary (log-normal); items are numbered so that every group is a
  contiguous index range, and their public ids are a seeded permutation, so
  ids say nothing about the hierarchy.
* Items have a heavy-tailed popularity (Pareto). An edge picks its source in
  proportion to popularity, then a level (same micro-cluster, same subtopic,
  same topic, or anywhere: cross-topic noise), then a partner at exactly that
  level, again in proportion to popularity. Degrees are therefore heavy
  tailed, and edge weights (co-watch scores) are larger the closer the two
  items sit in the hierarchy, with log-normal noise. In a `graded` world the
  partner inside a micro-cluster also depends on the distance of the two
  items' positions in it (world.py); with `unit_weights` every weight is 1.
* Content features per modality are noisy random projections of a latent
  vector (topic + subtopic + micro-cluster + item parts). Modalities see the
  parts with different strengths (the first sees all of them, the others
  mainly the topic and subtopic), so content carries part of the relation
  signal but not all of it. Or, with `content=words`, sparse bag-of-words
  counts from per-group word lists (content.py).
* YouTube-8M-style labels: a topic label, usually a subtopic label, and
  sometimes an unrelated one.

Files (contracts 1 and 2, plus the truth for evaluation):
`edges-*.csv` (`src,dst,weight`), `features-*.tfrecord`,
`hierarchy-*.tsv` (`id\ttopic\tsubtopic\tmicro`) and `synth.json`.

Modules: `config` (SynthConfig), `presets` (named worlds), `world` (hierarchy,
popularity, edges), `content` (features, labels), `writer` (files, synth.json).
"""

from pipelines.synth.config import SynthConfig
from pipelines.synth.content import features_chunk
from pipelines.synth.presets import DEFAULT_PRESET, PRESETS, Preset, config_for
from pipelines.synth.world import LEVELS, World, edge_chunk, id_strings, make_world
from pipelines.synth.writer import generate

__all__ = ["DEFAULT_PRESET", "LEVELS", "PRESETS", "Preset", "SynthConfig", "World", "config_for",
           "edge_chunk", "features_chunk", "generate", "id_strings", "make_world"]
