"""The OCI Distribution HTTP edge: thin aiohttp handlers over RegistryService."""
