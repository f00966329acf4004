"""A grammar-based fuzzer of every door of the server: /v2/, the AWS JSON 1.1 and Query APIs, their signatures,
and raw HTTP.

Each case starts as a valid request, built from what exists on the server (world.py) and, for the AWS doors,
from botocore's service models (aws_shapes.py), and is then mutated part by part: the OCI door's names, digests,
ranges and headers (registry_door.py); JSON bodies by type, size, nesting, Unicode and unknown members, and the
X-Amz-Target (json_door.py); Query parameters, their indices, Action and Version (query_door.py); the SigV4
signature itself (signature_door.py); and, over a bare socket, requests an HTTP client would refuse to send
(raw_door.py). Bodies stay validly signed, so each door's parser and validators are what is exercised.

The oracle (oracle.py) holds every answer to the same rules: no 5xx, an error in its protocol's shape, no body
on a HEAD. The runner (runner.py) sends the cases over a few connections with a timeout each, and counts per
door; a failure prints a reproduction with its seed and index. Cases are a pure function of (seed, index,
world) (generator.py), so a longer run is only a larger count:

    FUZZ_REQUESTS=200000 FUZZ_SEED=7 .venv/bin/python -m pytest tests/reliability/test_fuzzer.py
"""

from testkit.fuzz.cases import Case, Door, Failure
from testkit.fuzz.generator import make_case, make_raw_case
from testkit.fuzz.runner import FuzzReport, run_cases
from testkit.fuzz.world import World

__all__ = ["Case", "Door", "Failure", "FuzzReport", "World", "make_case", "make_raw_case", "run_cases"]
