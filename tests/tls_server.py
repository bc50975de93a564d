"""A local HTTPS server for tests of code that only speaks https (astroquery's VizieR):
a self-signed certificate for 127.0.0.1 and a threaded server wrapped in TLS."""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (valid from yesterday to the day after
    tomorrow), written into ``tmp``: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def serve_tls(handler, tmp: Path) -> ThreadingHTTPServer:
    """``handler`` served over TLS on a free port of 127.0.0.1, in a daemon thread.

    The server carries ``cert`` (the certificate to trust, e.g. in REQUESTS_CA_BUNDLE)
    and ``address`` ("127.0.0.1:PORT"); stop it with ``shutdown()``, ``server_close()``.
    """
    cert, key = self_signed(tmp)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.cert, srv.address = cert, f"127.0.0.1:{srv.server_address[1]}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
