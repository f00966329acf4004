"""How each client is told to trust the local CA of `--tls self-signed`: printed at start, for the registry's
`host:port`."""

from __future__ import annotations

from pullcache.tls.certificates import SelfSignedFiles


def trust_instructions(files: SelfSignedFiles, address: str, aws_config: str) -> str:
    """A paragraph for the operator: where the CA is and how docker, containerd, podman/skopeo, the AWS CLI and
    boto3 are made to trust it for the registry at `address` (host:port); `aws_config` names the AWS config file
    the server wrote (it points at the CA already)."""
    ca = files.ca.resolve()
    cert_dir = files.cert_dir.resolve()
    return (
        f"pullcache serves HTTPS with a certificate of its own local CA: {ca}\n"
        "Trust that CA (not the server certificate, which is issued again as it nears its end):\n"
        f"  docker:        copy it to /etc/docker/certs.d/{address}/ca.crt\n"
        f"  containerd:    /etc/containerd/certs.d/{address}/hosts.toml with\n"
        f'                   server = "https://{address}"\n'
        f'                   [host."https://{address}"]\n'
        f'                     ca = "{ca}"\n'
        f"  podman/skopeo: --cert-dir {cert_dir} (skopeo copy: --src-cert-dir/--dest-cert-dir), or copy it to\n"
        f"                 /etc/containers/certs.d/{address}/ca.crt\n"
        f"  AWS CLI:       --ca-bundle {ca}, or AWS_CA_BUNDLE={ca} (the profile in {aws_config} sets ca_bundle)\n"
        f'  boto3:         boto3.client(..., verify="{ca}")\n'
    )
