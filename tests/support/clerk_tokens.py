"""RS256 session tokens shaped like Clerk's, signed with a key pair the tests generate."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://clerk.openv.test"
ORIGIN = "https://openv.test"


class TokenMaker:
    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # As it would sit in .env: one line with literal "\n" sequences.
        self.public_pem_env = pem.decode().strip().replace("\n", "\\n")

    def settings(self) -> dict[str, Any]:
        return {"clerk_jwt_key": self.public_pem_env, "clerk_issuer": ISSUER, "clerk_authorized_parties": [ORIGIN]}

    def token(
        self,
        sub: str = "user_a",
        lifetime_s: int = 60,
        not_before_s: int = -5,
        without: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "sub": sub,
            "sid": "sess_1",
            "iss": ISSUER,
            "azp": ORIGIN,
            "iat": now,
            "nbf": now + not_before_s,
            "exp": now + lifetime_s,
            "v": 2,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if name not in without}
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": "ins_test"})
