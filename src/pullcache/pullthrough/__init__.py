"""The ECR pull-through cache: rules that map a repository prefix to an upstream registry, the upstream client,
the single-flight fills, and the source the registry pulls from on a miss."""
