"""Pure value types shared by every part of pullcache: digests, names and references, media types."""
