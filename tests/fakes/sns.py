"""Amazon SNS's side of message signing: a key and certificate, and the host serving it.

SNS signs each HTTP(S) message with RSA (SHA-1 for ``SignatureVersion`` 1, SHA-256 for 2)
over ``name\\nvalue\\n`` of the signed fields, and publishes the certificate at
``https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem``
(docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html). The string to
sign is spelt out here from those docs, not taken from the code under test.

``FakeSnsHost`` is a real HTTP server standing in for that host; ``to_fake_host`` gives
the bot an HTTP client whose requests to any ``sns.*.amazonaws.com`` URL reach it instead,
path and query unchanged.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tests.fakes.threaded import ThreadedFake

CERT_PATH = "/SimpleNotificationService-fake.pem"
CERT_URL = f"https://sns.us-east-1.amazonaws.com{CERT_PATH}"  # the samples' region
_NOTIFICATION = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
_CONFIRMATION = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


@dataclass
class SigningKey:
    """An RSA key and its self-signed certificate, as SNS's signing certificate."""

    key: rsa.RSAPrivateKey
    certificate_pem: bytes

    @classmethod
    def new(cls, *, valid_for: timedelta = timedelta(days=365)) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(key, self_signed(key, valid_for=valid_for))

    def sign(self, message: dict[str, Any], *, version: str = "1") -> dict[str, Any]:
        """The message as SNS sends it: with its signature, version and certificate URL."""
        names = _NOTIFICATION if message["Type"] == "Notification" else _CONFIRMATION
        text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message).encode()
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(text, padding.PKCS1v15(), digest)
        return {
            **message,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": CERT_URL,
        }


def self_signed(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    valid_for: timedelta = timedelta(days=365),
) -> bytes:
    """A certificate for ``key`` named as SNS's are, signed by itself, as PEM."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + valid_for)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class FakeSnsHost(ThreadedFake):
    """Serves certificates by path; ``answer`` overrides the status, to fail on purpose."""

    certificates: dict[str, bytes] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    answer: int | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake: FakeSnsHost = self.server.fake  # type: ignore[attr-defined]
            fake.fetched.append(self.path)
            body = fake.certificates.get(self.path)
            status = fake.answer or (200 if body is not None else 404)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *_: Any) -> None:
            pass

    handler: ClassVar[type[BaseHTTPRequestHandler]] = Handler


class _ToFakeHost(httpx.AsyncBaseTransport):
    def __init__(self, origin: str) -> None:
        self.origin = httpx.URL(origin)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host.startswith("sns.") and host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
            request.url = request.url.copy_with(
                scheme=self.origin.scheme, host=self.origin.host, port=self.origin.port
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def to_fake_host(host: FakeSnsHost) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=_ToFakeHost(host.origin))
