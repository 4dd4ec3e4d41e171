"""The identity-tower methods of `gcml bench compare` (docs/comparison.md).

`--tower=identity_linear` starts from a full-rank linear map at the identity:
step 0 is the raw features. These methods name that tower themselves, so they
keep their meaning under any `--tower`-less bench command:

* `cdml_identity`, `cdml_identity_pull0.01`, `cdml_identity_pull0.001`: CDML
  (random-negative triplets), alone and pulled towards the initial map
  (`--pull_to_init`);
* `contrastive_identity`: the in-batch softmax over the smart L0 examples'
  pairs (`--mode=contrastive`), the `demo` preset's default;
* `contrastive_identity_t0.05` / `_t0.2` (temperature), `_lr0.0003` (learning
  rate), `_pull0.001` / `_pull0.0001` (pull to the initial map): one change
  each to `contrastive_identity`, to measure what keeps small worlds above raw.
"""

SMART_L0 = {"kind": "smart", "level": 0}
CONTRASTIVE_IDENTITY = {"mode": "contrastive", "tower": "identity_linear"}
# suffix -> the one trainer flag a contrastive_identity variant changes
VARIANT_FLAGS = {"t": "temperature", "lr": "learning_rate", "pull": "pull_to_init"}
VARIANTS = (("t", 0.05), ("t", 0.2), ("lr", 0.0003), ("pull", 0.001), ("pull", 0.0001))

IDENTITY_METHODS = {
    "cdml_identity": {"examples": {"kind": "random"},
                      "train": {"mode": "triplet", "tower": "identity_linear"}},
    **{f"cdml_identity_pull{pull}": {"examples": {"kind": "random"}, "train": {
        "mode": "triplet", "tower": "identity_linear", "pull_to_init": pull}}
       for pull in (0.01, 0.001)},
    "contrastive_identity": {"examples": SMART_L0, "train": CONTRASTIVE_IDENTITY},
    **{f"contrastive_identity_{key}{value}": {
        "examples": SMART_L0, "train": {**CONTRASTIVE_IDENTITY, VARIANT_FLAGS[key]: value}}
       for key, value in VARIANTS},
}
