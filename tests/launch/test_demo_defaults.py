"""The training defaults of `gcml demo` are those docs/comparison.md measured."""

from launch import demo
from model import train_presets


def _config(tmp_path, method: str):
  """The TrainConfig `gcml demo` builds for `method` (its examples as empty files)."""
  kind, mode = demo.METHODS[method]
  folder = tmp_path / "examples" / kind
  folder.mkdir(parents=True, exist_ok=True)
  (folder / f"{'examples' if kind == 'labels' else 'triplets'}-00000.tfrecord").touch()
  if kind == "labels":
    (folder / "classes.tsv").write_text("label\tcluster\tsize\n0\tc0\t3\n1\tc1\t2\n")
  c = demo.DemoConfig(output_dir=str(tmp_path))
  return demo.train_config(c, method, kind, mode, str(tmp_path / "examples" / "validation"),
                           read_inputs=False)


def test_every_demo_method_trains_at_batch_64(tmp_path):
  # docs/comparison.md: batch 64 beat 128 at equal examples on all four presets.
  for method in demo.METHODS:
    config = _config(tmp_path, method)
    assert config.trainer.batch_size == 64, method
    assert config.trainer.train_steps == 800, method


def test_demo_sees_as_many_examples_as_before(tmp_path):
  # 800 x 64 = 400 x 128: the change is the batch size, not the budget.
  config = _config(tmp_path, "cdml")
  assert config.trainer.train_steps * config.trainer.batch_size == 400 * 128


def test_demo_preset_batch_is_64_in_every_mode():
  assert {v["batch_size"] for v in train_presets.DEMO.values()} == {64}


def test_demo_selects_on_validation_items(tmp_path):
  config = _config(tmp_path, "gcml")
  assert config.data.validation_data.endswith("validation")
  assert config.trainer.validate_every == 100


def test_every_demo_method_starts_at_the_raw_features(tmp_path):
  # docs/comparison.md: the identity-initialised tower beat the papers' towers (CDML).
  for method in demo.METHODS:
    config = _config(tmp_path, method)
    assert config.model.tower == "identity_linear", method
    assert config.model.pull_to_init == 0.0, method
