"""The OCI Distribution registry: its service, ports and HTTP edge."""
