"""`pullcache warm`: pull images through a running cache as an ordinary client, so that later pulls are warm.

    references.py  IMAGE arguments: [host[:port]/]repository[:tag][@digest]
    platforms.py   os/arch[/variant], the machine's own, and which of an index's manifests match
    login.py       where the server is and the /v2/ credentials: botocore's credential chain and
                   ecr:GetAuthorizationToken, as `aws ecr get-login-password` does
    client.py      the few /v2/ requests a puller makes, bodies streamed and checked against their digests
    warmer.py      each image's manifests, the platforms asked, then every blob, a bounded number at a time
    progress.py    what the user sees while it runs: a bar per image on a terminal, a line per image otherwise,
                   and the summary
    command.py     the command itself, called by cli.py

The server's side of it is the X-Cache header of its manifest and blob answers (registry/api/cache_status.py).
"""
