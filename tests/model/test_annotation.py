"""`model/annotation.py`: the YouTube-8M mixture of experts by hand, the model's shapes and
multi-hot labels. (`train_and_predict` runs in tests/pipelines/evaluation/test_annotation.py.)"""

import numpy as np
import tensorflow as tf

from model.annotation import AnnotationConfig, MixtureOfExperts, build_model, multi_hot


class AnnotationTest(tf.test.TestCase):

  def test_multi_hot(self):
    self.assertAllEqual(multi_hot([[0, 2], [], [1]], 3),
                        [[1, 0, 1], [0, 0, 0], [0, 1, 0]])

  def test_mixture_of_experts_by_hand(self):
    # One class, one expert: gates softmax([g, dummy]), expert sigmoid(e);
    # p = softmax(g, d)[0] * sigmoid(e). With x = 1, gate kernel [[1, 0]], expert kernel [[2]]
    # and zero biases: softmax(1, 0)[0] = e / (e + 1), sigmoid(2).
    moe = MixtureOfExperts(num_classes=1, num_experts=1)
    moe(tf.constant([[0.0]]))  # builds the gate and expert layers
    moe.gates.set_weights([np.array([[1.0, 0.0]]), np.zeros(2)])
    moe.experts.set_weights([np.array([[2.0]]), np.zeros(1)])
    expected = np.e / (np.e + 1) / (1 + np.exp(-2.0))
    self.assertAllClose(moe(tf.constant([[1.0]])), [[expected]], rtol=1e-6)

  def test_model_shapes_and_probabilities(self):
    model = build_model(4, 3, AnnotationConfig(hidden_units=8, num_experts=2))
    p = model(np.ones((5, 4), np.float32)).numpy()
    self.assertEqual(p.shape, (5, 3))
    self.assertTrue(np.all((p >= 0) & (p <= 1)))
    self.assertEqual([layer.name for layer in model.layers[1:]], ["hidden", "moe"])


if __name__ == "__main__":
  tf.test.main()
