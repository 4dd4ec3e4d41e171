"""The temporal contrastive loss: CVRL's InfoNCE over the 2N clips of N videos.

With clip embeddings z_i and z'_i of video i (L2-normalised), row i's
candidates are every other clip in the batch, z'_i its positive:

  L_i = -log exp(z_i.z'_i / t) / sum_{k != i} exp(z_i.c_k / t)

over the 2N clips c (both directions averaged, SimCLR's NT-Xent). This is
`contrastive.contrastive_loss` with `anchor_negatives=True, symmetric=True`;
video ids mask the other clips of a video that appears twice in the batch,
and cluster ids (the thesis plan's pseudo-labels) optionally mask negatives
of the video's own cluster.

`global_temporal_contrastive_loss` is the trainer's: under a multi-replica
strategy it gathers every replica's clips (`ReplicaContext.all_gather`), so
the negatives are the GLOBAL batch, and returns the loss divided by the
number of replicas (every replica computes the same global loss; the
gathered clips' gradients are summed back to the replica that embedded
them, so summing the replicas' gradients gives the global loss's gradient).
"""

import tensorflow as tf

from model.losses.contrastive import contrastive_loss
from model.losses.triplet import dense_gradient, multi_replica_context


def temporal_contrastive_loss(clips_a, clips_b, temperature: float = 0.1, video_ids=None,
                              cluster_ids=None):
  """InfoNCE over two clips per video with in-batch negatives.

  Args:
    clips_a: float [N, D] embeddings of each video's first clip.
    clips_b: float [N, D] embeddings of each video's second clip.
    temperature: softmax temperature t > 0.
    video_ids: optional int64 [N] ids (hashed); repeated videos are not negatives.
    cluster_ids: optional int [N] cluster ids; same-cluster clips are not
      negatives (-1: unknown, never matches).

  Returns:
    Scalar loss.
  """
  return contrastive_loss(clips_a, clips_b, temperature, anchor_ids=video_ids,
                          positive_ids=video_ids, anchor_cluster_ids=cluster_ids,
                          anchor_negatives=True, symmetric=True)


def global_temporal_contrastive_loss(clips_a, clips_b, temperature: float, video_ids,
                                     cluster_ids=None):
  """`temporal_contrastive_loss` over the global batch, this replica's share.

  Args:
    clips_a: float [n, D] this replica's first-clip embeddings.
    clips_b: float [n, D] this replica's second-clip embeddings.
    temperature: softmax temperature t > 0.
    video_ids: int64 [n] hashed video ids.
    cluster_ids: optional int64 [n] cluster ids (-1: unknown).

  Returns:
    Scalar: the global loss / the number of replicas (the global loss on one
    device), so that the replicas' values sum to the global loss.
  """
  ctx = multi_replica_context()
  if ctx is None:
    return temporal_contrastive_loss(clips_a, clips_b, temperature, video_ids, cluster_ids)
  gathered = [dense_gradient(ctx.all_gather(clips_a, axis=0)),
              dense_gradient(ctx.all_gather(clips_b, axis=0)),
              ctx.all_gather(video_ids, axis=0)]
  if cluster_ids is not None:
    gathered.append(ctx.all_gather(cluster_ids, axis=0))
  loss = temporal_contrastive_loss(*gathered[:2], temperature, gathered[2],
                                   gathered[3] if cluster_ids is not None else None)
  return loss / tf.cast(ctx.num_replicas_in_sync, loss.dtype)
