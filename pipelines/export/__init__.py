"""The export stage (`gcml export`): embeddings and related items (contract 7) from a SavedModel."""
