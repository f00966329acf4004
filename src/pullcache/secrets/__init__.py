"""Secrets Manager: the secrets pull-through caches sign in to their upstream registries with."""
