"""Check and load the keys that sign and verify the API's JSON Web Tokens.

Imported by the settings, so nothing here may touch Django's or DRF's settings.
HS256 signs with one shared secret; RS256 and ES256 sign with a private key
and verify with its public key, both read from PEM files.
"""

from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from django.core.exceptions import ImproperlyConfigured

MIN_HMAC_KEY_BYTES = 32  # 256 bits, the size of HS256's output (RFC 7518 §3.2)
MIN_RSA_KEY_BITS = 2048  # RFC 7518 §3.3


@dataclass(frozen=True)
class JWTKeys:
    """The pinned algorithm, the key that signs and the key that verifies."""

    algorithm: str
    signing_key: str
    verifying_key: str


def hmac_keys(*, signing_key: str, secret_key: str, enforce_size: bool) -> JWTKeys:
    """Return HS256 keys; refuse a short key, or one shared with SECRET_KEY."""
    if enforce_size and len(signing_key.encode()) < MIN_HMAC_KEY_BYTES:
        raise ImproperlyConfigured(
            f"JWT_SIGNING_KEY must be at least {MIN_HMAC_KEY_BYTES} bytes "
            "(256 bits) for HS256."
        )
    if signing_key == secret_key:
        raise ImproperlyConfigured("JWT_SIGNING_KEY must differ from SECRET_KEY.")
    return JWTKeys(algorithm="HS256", signing_key=signing_key, verifying_key="")


def asymmetric_keys(
    *, algorithm: str, private_key_file: str, public_key_file: str
) -> JWTKeys:
    """Return RS256 or ES256 keys read from PEM files, checked to be a pair.

    The private key may be left out on a node that only verifies tokens; it
    then cannot issue any.
    """
    if not public_key_file:
        raise ImproperlyConfigured(
            f"Set JWT_PUBLIC_KEY_FILE to the PEM public key for {algorithm}."
        )
    public_pem = _read_pem("JWT_PUBLIC_KEY_FILE", public_key_file)
    try:
        public_key = serialization.load_pem_public_key(public_pem.encode())
    except (ValueError, UnsupportedAlgorithm) as err:
        raise ImproperlyConfigured(
            f"JWT_PUBLIC_KEY_FILE does not hold a PEM public key ({err})."
        ) from err
    _check_key_type(algorithm, public_key)

    private_pem = ""
    if private_key_file:
        private_pem = _read_pem("JWT_PRIVATE_KEY_FILE", private_key_file)
        try:
            private_key = serialization.load_pem_private_key(
                private_pem.encode(), password=None
            )
        except (ValueError, TypeError, UnsupportedAlgorithm) as err:
            raise ImproperlyConfigured(
                "JWT_PRIVATE_KEY_FILE does not hold an unencrypted PEM private "
                f"key ({err})."
            ) from err
        if _public_der(private_key.public_key()) != _public_der(public_key):
            raise ImproperlyConfigured(
                "JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE are not one key pair."
            )
    return JWTKeys(
        algorithm=algorithm, signing_key=private_pem, verifying_key=public_pem
    )


def _read_pem(variable: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise ImproperlyConfigured(f"{variable}: cannot read {path} ({err}).") from err


def _check_key_type(algorithm: str, public_key) -> None:
    if algorithm == "RS256":
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ImproperlyConfigured("JWT_ALGORITHM=RS256 needs an RSA key pair.")
        if public_key.key_size < MIN_RSA_KEY_BITS:
            raise ImproperlyConfigured(
                f"The RSA key has {public_key.key_size} bits; RS256 needs at "
                f"least {MIN_RSA_KEY_BITS}."
            )
    elif algorithm == "ES256" and not (
        isinstance(public_key, ec.EllipticCurvePublicKey)
        and isinstance(public_key.curve, ec.SECP256R1)
    ):
        raise ImproperlyConfigured(
            "JWT_ALGORITHM=ES256 needs an EC key pair on the P-256 curve."
        )


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def jwt_keys(
    *,
    algorithm: str,
    signing_key: str,
    secret_key: str,
    private_key_file: str,
    public_key_file: str,
    enforce_size: bool,
) -> JWTKeys:
    """Return the keys for ``algorithm``: HS256, RS256 or ES256, nothing else."""
    if algorithm == "HS256":
        return hmac_keys(
            signing_key=signing_key, secret_key=secret_key, enforce_size=enforce_size
        )
    if algorithm in ("RS256", "ES256"):
        return asymmetric_keys(
            algorithm=algorithm,
            private_key_file=private_key_file,
            public_key_file=public_key_file,
        )
    raise ImproperlyConfigured(
        f"JWT_ALGORITHM={algorithm!r} is not supported; use HS256, RS256 or ES256."
    )
