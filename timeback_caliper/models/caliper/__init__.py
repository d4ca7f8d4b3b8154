"""Caliper 1.2: one module per branch of the spec's type tree."""
