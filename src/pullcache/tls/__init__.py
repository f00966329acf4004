"""TLS on the API's port: the certificate files (given, or issued by a local CA in the data dir), the live
`ssl.SSLContext` built from them and swapped on SIGHUP, and what the listening sites are made with.

    certificates.py   the local CA of `--tls self-signed` and the server certificate it issues
    contexts.py       ServerCertificates: the context built from the files, reloaded without dropping connections
    relay.py          TLS terminated by a thread a connection on blocking sockets, the plaintext served by the event
                      loop through a socket pair (asyncio's own TLS transport is several times slower)
    trust.py          how each client is told to trust the local CA
"""

from pullcache.tls.certificates import SelfSignedFiles, default_names, ensure_self_signed, self_signed_files
from pullcache.tls.contexts import CertificateFiles, CertificateSummary, ServerCertificates, check_files
from pullcache.tls.errors import TlsSetupError
from pullcache.tls.trust import trust_instructions

__all__ = [
    "CertificateFiles",
    "CertificateSummary",
    "SelfSignedFiles",
    "ServerCertificates",
    "TlsSetupError",
    "check_files",
    "default_names",
    "ensure_self_signed",
    "self_signed_files",
    "trust_instructions",
]
