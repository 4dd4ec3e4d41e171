"""File contracts: one module per contract, each with its readers and writers (Beam and memory)."""
