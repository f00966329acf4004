"""The AWS API edge of this context: operation handlers and the wire error table."""
