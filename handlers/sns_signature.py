"""Proves that an SNS message comes from Amazon SNS, unaltered: its ``Signature``.

Opt-in (``WARROOM_SNS_VERIFY_SIGNATURES``): the webhook token in the subscribed URL
already authenticates the sender, and checking needs the bot to reach SNS's host. With it
on, a message is accepted only when its signature (RSA, SHA-1 for ``SignatureVersion``
1, SHA-256 for 2) verifies with the certificate at ``SigningCertURL``, which must be
https on SNS's own host for the topic's region, so TLS vouches for the certificate.

The certificate is fetched while the request waits, not by the dispatcher: it decides
whether the request is accepted at all. Certificates are kept by URL (SNS rotates them
rarely), and messages arriving together wait for one fetch, so a storm costs one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from handlers.parsers import cloudwatch
from handlers.parsers.errors import PayloadError

HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
KEPT = 32  # certificates remembered; SNS signs with one per region at a time
FETCH_TIMEOUT = 10.0


class Unverified(Exception):
    """The message is not provably from SNS: refuse it (401)."""


class CertificateUnavailable(Exception):
    """SNS's certificate could not be fetched now: refuse with 503, so SNS retries."""


class SnsSignatures:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        # Fetches, not certificates: messages arriving together share the first one's.
        self._certificates: OrderedDict[str, asyncio.Future[x509.Certificate]] = OrderedDict()

    async def verify(self, payload: dict[str, Any], envelope: cloudwatch.SnsEnvelope) -> None:
        """Return if SNS signed this message; raise ``Unverified`` or ``CertificateUnavailable``."""
        algorithm = HASHES.get(envelope.signature_version or "")
        if algorithm is None:
            raise Unverified(f"SignatureVersion {envelope.signature_version!r} is not 1 or 2")
        signature = _decoded(envelope.signature or "")
        try:
            url = cloudwatch.signing_cert_url(envelope)
        except PayloadError as exc:
            raise Unverified(str(exc)) from None
        key = _rsa_key(await self._certificate(url))
        text = cloudwatch.signed_text(payload, envelope)
        try:
            key.verify(signature, text, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise Unverified("Signature does not match the message") from None

    async def _certificate(self, url: str) -> x509.Certificate:
        fetch = self._certificates.get(url)
        if fetch is None:
            fetch = asyncio.ensure_future(self._fetch(url))
            fetch.add_done_callback(lambda done: self._forget_failed(url, done))
            self._certificates[url] = fetch
            if len(self._certificates) > KEPT:
                self._certificates.popitem(last=False)
        # Shielded: a sender hanging up must not cancel the fetch the others wait for.
        return await asyncio.shield(fetch)

    def _forget_failed(self, url: str, fetch: asyncio.Future[x509.Certificate]) -> None:
        """A failed fetch is not kept: the next message tries again."""
        if (fetch.cancelled() or fetch.exception() is not None) and (
            self._certificates.get(url) is fetch
        ):
            del self._certificates[url]

    async def _fetch(self, url: str) -> x509.Certificate:
        try:
            response = await self.client.get(url, timeout=FETCH_TIMEOUT, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise CertificateUnavailable(f"fetching SigningCertURL failed: {exc!r}") from None
        if 400 <= response.status_code < 500:  # on SNS's own host: no such certificate
            raise Unverified(f"SigningCertURL answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise CertificateUnavailable(f"SigningCertURL answered HTTP {response.status_code}")
        try:
            return x509.load_pem_x509_certificate(response.content)
        except ValueError:
            raise Unverified("SigningCertURL is not a PEM certificate") from None


def _decoded(signature: str) -> bytes:
    try:
        decoded = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise Unverified("Signature is not base64") from None
    if not decoded:
        raise Unverified("Signature: Field required")
    return decoded


def _rsa_key(certificate: x509.Certificate) -> rsa.RSAPublicKey:
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Unverified("the SigningCertURL certificate is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Unverified("the SigningCertURL certificate has no RSA key")
    return key
