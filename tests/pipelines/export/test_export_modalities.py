"""gcml export: the model's modalities, checked against --modalities and the features."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from launch import main as gcml
from model.config import EmbeddingModelConfig, ModalityConfig
from model.export import export_saved_model
from model.towers import EmbeddingModel
from pipelines.io import tf_example
from tests.pipelines import files


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  root = tmp_path_factory.mktemp("export_modalities")
  tf.keras.utils.set_random_seed(0)
  model = EmbeddingModel(EmbeddingModelConfig.demo(
      modalities=(ModalityConfig("visual", 6), ModalityConfig("audio", 3)), hidden_units=(8,),
      embedding_dim=4))
  export_saved_model(model, str(root / "model" / "export"))
  rng = np.random.default_rng(0)
  files.write_tfrecord(str(root / "in" / "features-0.tfrecord"), [tf_example.encode(
      {"id": f"v{i}", "visual": rng.normal(size=6).astype(np.float32),
       "audio": rng.normal(size=3).astype(np.float32)}) for i in range(6)])
  files.write_tfrecord(str(root / "rgb" / "features-0.tfrecord"), [tf_example.encode(
      {"id": "v0", "mean_rgb": np.ones(6, np.float32)})])
  return root


def _export(world, out, *flags):
  return gcml.main(["export", f"--model_dir={world}/model", f"--output_dir={out}", "--top_k=2",
                    "--runner=FnApiRunner", *flags])


def test_export_records_the_model_modalities(world, tmp_path):
  assert _export(world, tmp_path, f"--features={world}/in/features-*") == 0
  with open(tmp_path / "summary.json", encoding="utf-8") as f:
    section = json.load(f)["export"]
  assert section["modalities"] == "visual:6,audio:3"
  assert section["export/embedded_items"] == 6


def test_given_modalities_other_than_the_model_are_one_line(world, tmp_path, capsys):
  code = _export(world, tmp_path, f"--features={world}/in/features-*", "--modalities=visual:6")
  err = capsys.readouterr().err
  assert code == 2 and err.count("\n") == 1
  assert (f"--modalities names modalities visual:6 but the model {world}/model/export (its "
          "serving signature) records visual:6,audio:3") in err
  assert not os.path.exists(tmp_path / "summary.json")


def test_features_without_the_model_modalities_are_one_line(world, tmp_path, capsys):
  code = _export(world, tmp_path, f"--features={world}/rgb/features-*")
  err = capsys.readouterr().err
  assert code == 2 and err.count("\n") == 1
  assert "no record of --features carries them; the records carry mean_rgb:6" in err
