"""`python -m pullcache` runs the command line."""

from pullcache.cli import main

main()
