"""`model/nonfinite.py`: the bit codes of non-finite values, the one-line error, and an update
that is skipped but still advances the step counter."""

import numpy as np
import tensorflow as tf

from model import nonfinite
from model.errors import ConfigError


class NonFiniteTest(tf.test.TestCase):

  def test_describe_names_the_bits(self):
    self.assertEqual(nonfinite.describe(0), "nothing")
    self.assertEqual(nonfinite.describe(nonfinite.GRADIENT), "gradient")
    self.assertEqual(nonfinite.describe(nonfinite.LOSS | nonfinite.VARIABLE),
                     "loss and variable")
    self.assertEqual(nonfinite.describe(7), "loss, gradient and variable")

  def test_error_is_a_one_line_config_error_naming_the_step(self):
    e = nonfinite.error(12, nonfinite.LOSS, "/m")
    self.assertIsInstance(e, ConfigError)
    self.assertTrue(str(e).startswith("non-finite loss at step 12; training stopped"))
    self.assertIn("/m/checkpoints", str(e))
    self.assertNotIn("\n", str(e))

  def test_update_code(self):
    fine = [tf.constant([1.0, 2.0]), None]
    self.assertEqual(int(nonfinite.update_code(tf.constant(1.0), fine)), 0)
    self.assertEqual(int(nonfinite.update_code(tf.constant(np.nan), fine)), nonfinite.LOSS)
    sparse = tf.IndexedSlices(tf.constant([[np.inf]]), tf.constant([0]))
    self.assertEqual(int(nonfinite.update_code(tf.constant(np.inf), [sparse])),
                     nonfinite.LOSS | nonfinite.GRADIENT)
    self.assertEqual(int(nonfinite.update_code(tf.constant(0.0), [])), 0)

  def test_variable_code(self):
    self.assertEqual(int(nonfinite.variable_code([tf.Variable([1.0])])), 0)
    self.assertEqual(int(nonfinite.variable_code([tf.Variable([1.0]), tf.Variable([-np.inf])])),
                     nonfinite.VARIABLE)

  def test_apply_unless_skips_the_update_but_counts_the_step(self):
    v = tf.Variable([1.0, 2.0])
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.5)
    grads = [tf.constant([2.0, 4.0])]
    nonfinite.apply_unless(tf.constant(True), optimizer, grads, [v], aggregated=False)
    self.assertAllEqual(v, [1.0, 2.0])
    self.assertEqual(int(optimizer.iterations), 1)
    nonfinite.apply_unless(tf.constant(False), optimizer, grads, [v], aggregated=False)
    self.assertAllClose(v, [0.0, 0.0])  # 1 - 0.5 * 2, 2 - 0.5 * 4
    self.assertEqual(int(optimizer.iterations), 2)


if __name__ == "__main__":
  tf.test.main()
