"""The temporal contrastive loss: CVRL's InfoNCE over the 2N clips of N videos.

With clip embeddings z_i and z'_i of video i (L2-normalised), row i's
candidates are every other clip in the batch, z'_i its positive:

  L_i = -log exp(z_i.z'_i / t) / sum_{k != i} exp(z_i.c_k / t)

over the 2N clips c (both directions averaged, SimCLR's NT-Xent). This is
`contrastive.contrastive_loss` with `anchor_negatives=True, symmetric=True`;
video ids mask the other clips of a video that appears twice in the batch,
and cluster ids (the thesis plan's pseudo-labels) optionally mask negatives
of the video's own cluster.
"""

from model.losses.contrastive import contrastive_loss


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
