"""The 4096 -> mixture-of-experts annotation model (small sizes)."""

import numpy as np

from model import annotation, metrics


def test_moe_probabilities_and_learning_a_separable_problem():
  rng = np.random.default_rng(0)
  centers = rng.normal(size=(4, 8)) * 3
  cls = rng.integers(0, 4, size=400)
  x = centers[cls] + 0.3 * rng.normal(size=(400, 8))
  y = annotation.multi_hot([[c] for c in cls], 4)
  config = annotation.AnnotationConfig(hidden_units=32, num_experts=5, learning_rate=0.01,
                                       batch_size=64, train_steps=150)
  model = annotation.build_model(8, 4, config)
  p = model(x[:5].astype(np.float32)).numpy()
  assert p.shape == (5, 4) and np.all((p > 0) & (p < 1))
  assert model.get_layer("moe").experts.units == 4 * 5
  assert model.get_layer("moe").gates.units == 4 * 6
  probs = annotation.train_and_predict(x[:300], y[:300], x[300:], config)
  assert metrics.hit_at_k(probs, y[300:], 1) > 0.9
  assert metrics.global_average_precision(probs, y[300:]) > 0.9
