"""The benchmark: pullcache against CNCF Distribution on loopback. Run `python -m bench`; see bench/README.md."""
