"""Losses of the embedding model: triplet with semi-hard mining, CLC sampled
softmax, contrastive (InfoNCE / NT-Xent). See each module for exact definitions."""

from model.losses.contrastive import contrastive_loss
from model.losses.sampled_softmax import (SAMPLERS, CandidateSample, ClassEmbeddingTable,
                                          log_uniform_probability, sample_candidates,
                                          sampled_softmax_logits, sampled_softmax_loss)
from model.losses.triplet import (DIAGNOSTICS, SemihardChoice, hash_ids, semihard_negatives,
                                  triplet_loss)

__all__ = [
    "CandidateSample", "ClassEmbeddingTable", "DIAGNOSTICS", "SAMPLERS", "SemihardChoice",
    "contrastive_loss", "hash_ids", "log_uniform_probability", "sample_candidates",
    "sampled_softmax_logits", "sampled_softmax_loss", "semihard_negatives", "triplet_loss",
]
