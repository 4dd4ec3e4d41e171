"""File contracts: one module per contract (readers, writers, validation rules)."""
