"""Losses of the embedding model: triplet with semi-hard mining, CLC sampled
softmax, contrastive (InfoNCE / NT-Xent). See each module for exact definitions."""

from model.losses.contrastive import contrastive_loss
from model.losses.sampled_softmax import (ClassEmbeddingTable, sampled_softmax_logits,
                                          sampled_softmax_loss)
from model.losses.samplers import (SAMPLERS, CandidateSample, log_uniform_boundaries,
                                   log_uniform_classes, log_uniform_probability,
                                   sample_candidates, unigram_classes, unigram_cumulative,
                                   unigram_probability)
from model.losses.triplet import (DIAGNOSTICS, SemihardChoice, hash_ids, semihard_negatives,
                                  triplet_loss)

__all__ = [
    "CandidateSample", "ClassEmbeddingTable", "DIAGNOSTICS", "SAMPLERS", "SemihardChoice",
    "contrastive_loss", "hash_ids", "log_uniform_boundaries", "log_uniform_classes",
    "log_uniform_probability", "sample_candidates", "unigram_classes", "unigram_cumulative",
    "unigram_probability",
    "sampled_softmax_logits", "sampled_softmax_loss", "semihard_negatives", "triplet_loss",
]
