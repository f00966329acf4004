"""AWS protocol plumbing: SigV4, JSON 1.1, Query/XML, error rendering."""
