"""gcml export of a temporal model: frame-level files in, the same bytes from both engines."""

import numpy as np
import pytest
import tensorflow as tf

from model.config import EmbeddingModelConfig, ModalityConfig
from model.export import export_saved_model
from model.temporal_tower import MASK_KEY, TemporalEmbeddingModel
from pipelines.export import saved_model, stage as export
from pipelines.io import frame_features
from tests.pipelines import files
from tests.pipelines.examples.worlds import output_bytes
from tests.pipelines.export.export_helpers import BEAM

MODS = (("rgb", 16), ("audio", 4))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  """A temporal model (trained scorers: attention, not the mean) and 2 frame files."""
  root = tmp_path_factory.mktemp("export_frames")
  tf.keras.utils.set_random_seed(3)
  model = TemporalEmbeddingModel(EmbeddingModelConfig.demo(
      modalities=tuple(ModalityConfig(n, d) for n, d in MODS), hidden_units=(24,),
      embedding_dim=8))
  model({**{n: tf.zeros([1, 1, d]) for n, d in MODS}, MASK_KEY: tf.ones([1, 1], tf.bool)})
  for n, d in MODS:
    model.scorers[n].kernel.assign(np.linspace(-1, 1, d, dtype=np.float32)[:, None])
  export_saved_model(model, str(root / "model"))
  rng = np.random.default_rng(5)
  frames = {f"v{j:03d}": {n: rng.uniform(-1.5, 1.5, size=(3 + j % 7, d)) for n, d in MODS}
            for j in range(40)}
  records = [frame_features.encode(i, f) for i, f in frames.items()]
  records += [frame_features.encode("v005", frames["v006"]),  # a duplicate id
              frame_features.encode("short", {"rgb": np.zeros((2, 3)), "audio": np.zeros((2, 4))}),
              b"not a record"]
  for part in range(2):
    files.write_tfrecord(str(root / "in" / f"f-{part}.tfrecord"), records[part::2])
  return root, model, frames


def _export(root, out, extra):
  return export.run([f"--model_dir={root}/model", f"--features={root}/in/f-*",
                     f"--output_dir={out}", "--top_k=4", "--batch_size=8", "--num_shards=2",
                     *extra])


def test_frame_mask_is_the_models_input_name():
  assert saved_model.FRAME_MASK == MASK_KEY


def test_both_engines_write_the_same_bytes_from_frames(world, tmp_path):
  root, model, frames = world
  local = _export(root, tmp_path / "local", ["--engine=local"])
  beam = _export(root, tmp_path / "beam", BEAM[1])
  assert local == beam
  assert local["export/embedded_items"] == 40 and local["frames/valid_items"] == 40
  assert local["rejected/duplicate_id"] == 1 and local["rejected/rgb_wrong_length"] == 1
  assert local["frames"] is True and local["modalities"] == "rgb:16,audio:4"
  got, want = output_bytes(tmp_path / "local"), output_bytes(tmp_path / "beam")
  assert sorted(got) == sorted(want)
  for name in want:
    assert got[name] == want[name], name
  # An item's embedding is the model's on its own (dequantised) frames, padding aside.
  records = tf.data.TFRecordDataset(sorted(str(p) for p in (tmp_path / "local").glob(
      "embeddings-*.tfrecord")))
  embedded = {}
  for r in records:
    ex = tf.train.Example.FromString(r.numpy())
    embedded[ex.features.feature["id"].bytes_list.value[0].decode()] = np.array(
        ex.features.feature["embedding"].float_list.value)
  for item_id in ("v000", "v013", "v039"):
    x = {n: frame_features.dequantize(frame_features.quantize(frames[item_id][n]))[None]
         for n, _ in MODS}
    x[MASK_KEY] = np.ones((1, len(frames[item_id]["rgb"])), bool)
    np.testing.assert_allclose(embedded[item_id], model(x).numpy()[0], atol=1e-5)
