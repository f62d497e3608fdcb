"""Online scoring: per-customer features, one River model per objective, delayed labels, tiers."""
