"""A join that stays balanced when a few keys are very hot.

Joining per-edge or per-triplet records to per-item values by item id puts
all the records of a popular item (a hot video with a million co-watches, or
a negative picked by many anchors) on one key, so one worker would do a
large share of the work (a straggler) and hold a huge group. `SkewJoin`
counts the records per key first (a combiner, so that count is cheap even
for hot keys); keys with more than `hot_threshold` records are split into
ceil(count / hot_threshold) sub-keys: their records are spread over the
sub-keys and the key's (single, small) value is copied to each. No group then
holds more than about `hot_threshold` records, and the copies cost at most
(records / hot_threshold) values in all. The hot keys travel as a side input,
whose size is bounded by records / hot_threshold.

Which sub-key a record goes to does not change what the join returns, so the
result is the same whatever the bundle order or the number of workers.
"""


DEFAULT_HOT_THRESHOLD = 10_000
