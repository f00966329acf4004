"""Who is calling: accounts, access keys and the principals they stand for."""
