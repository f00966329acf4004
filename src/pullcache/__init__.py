"""pullcache: a self-hosted OCI registry with the Amazon ECR API and ECR's pull-through cache."""

__version__ = "0.1.0"
