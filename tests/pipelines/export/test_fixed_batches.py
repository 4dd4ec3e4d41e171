"""pipelines.export.fixed_batches: the in-memory batches are the Beam transform's."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.export import fixed_batches
from pipelines.export import fixed_batches_beam

IDS = [f"v{j}" for j in range(11)]


def test_local_batches_depend_on_the_ids_alone():
  batches = fixed_batches.fixed_batches_local(IDS, 3)
  assert sorted(i for b in batches for i in b) == sorted(IDS)
  assert all(len(b) <= 3 and b == sorted(b) for b in batches)
  # ceil(11 / 3) = 4 buckets, each id in the bucket of its hash; buckets in order.
  buckets = [fixed_batches.batch_of(b[0], 4) for b in batches]
  assert buckets == sorted(buckets)
  assert all(fixed_batches.batch_of(i, 4) == k for b, k in zip(batches, buckets) for i in b)
  assert fixed_batches.fixed_batches_local(IDS[::-1], 3) == batches


def test_beam_transform_forms_the_same_batches():
  want = [[(i, i.upper()) for i in b] for b in fixed_batches.fixed_batches_local(IDS, 3)]
  with TestPipeline() as p:
    got = (p | beam.Create([(i, i.upper()) for i in IDS])
           | fixed_batches_beam.FixedBatches(3))
    assert_that(got, equal_to(want))
