"""What the tests and the benchmark share: real servers on loopback, the OCI client, images, and samplers.

- servers.py       pullcache and CNCF Distribution started as child processes on free ports
- registry_client.py   the OCI Distribution client (aiohttp): whole replies, push and pull steps, streamed
                   downloads hashed as they arrive; sync_client.py is its blocking face over urllib
- reply.py         the one `Reply` both faces answer with
- oci_errors.py    the OCI spec's error codes, which /v2/ error bodies are held to
- aws_clients.py   boto3 clients and the `aws` CLI signed with the keys a server wrote on first start
- images.py        images in the directory formats skopeo reads, and their media types
- content.py       deterministic content of any size and the request bodies that carry it
- hashing.py       a sha256 that hashes and counts bytes as they pass
- rss.py           a process tree's resident memory, sampled in a background thread
- small_images.py  small OCI images built in memory from a seed, pushed and pulled whole (every byte checked)
- mixed_load.py    the soak's load: pushes, pulls, pull-through imports and ECR calls, measured over time

Digests of whole byte strings are `pullcache.core.digests.Digest.of`; nothing here defines another.
Fixtures and conftest files stay in tests/: this package knows nothing of pytest's collection.
"""
