"""Blob storage drivers behind the registry's BlobStore port."""
