"""``--tls``: a private CA and a server certificate for 127.0.0.1 and localhost (SPEC §3).

trustme makes both (a real library rather than hand-built X.509). Clients trust the CA's PEM file,
whose path the sandbox prints as ``ca <path>`` before ``ready``; the files live in a private temp
directory removed when the sandbox stops.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import trustme

HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate clients trust
    cert: Path  # server certificate chain
    key: Path  # server private key


def make_tls_files(directory: Path | None = None, hosts: Iterable[str] = HOSTS) -> TlsFiles:
    """Write a new CA and a certificate for ``hosts`` signed by it; a temp dir unless given one."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="sandbox-tls-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    ca = trustme.CA(organization_name="exchange-sandbox test CA")
    leaf = ca.issue_cert(*dict.fromkeys(hosts))
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    with files.cert.open("wb") as out:
        for pem in leaf.cert_chain_pems:
            out.write(pem.bytes())
    leaf.private_key_pem.write_to_path(str(files.key))
    files.key.chmod(0o600)
    return files
