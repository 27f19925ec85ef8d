"""Pseudonymisation with a keyed hash, and detection of personal-data columns.

A person identifier ``x`` becomes ``"P"`` followed by the 16 hex digits of BLAKE2b keyed with
the secret (RFC 7693's keyed mode, a MAC: without the key the pseudonym cannot be computed or
reversed by trying likely identifiers). The key comes from a
file or the ``COACHEVAL_PSEUDONYM_KEY`` environment variable and is never written into outputs.
The same key gives the same pseudonym every quarter, so survey waves and HR extracts link; a
different key gives unrelated pseudonyms.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError

__all__ = ["PseudonymKey", "looks_like_pii"]

KEY_ENV = "COACHEVAL_PSEUDONYM_KEY"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")
_PII_NAME_HINTS = (
    "name",
    "email",
    "e-mail",
    "mail",
    "phone",
    "mobile",
    "address",
    "ssn",
    "social security",
    "birth",
    "dob",
    "ipaddress",
    "ip address",
    "latitude",
    "longitude",
)


@dataclass(frozen=True)
class PseudonymKey:
    """A secret key for pseudonyms. Its ``fingerprint`` (not the key) may be reported.

    Examples
    --------
    >>> key = PseudonymKey(b"0" * 32)
    >>> key.pseudonym("12345") == key.pseudonym("12345")
    True
    """

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ConfigError("a pseudonym key must be at least 16 bytes long")

    @property
    def fingerprint(self) -> str:
        """A short hash of the key, to tell keys apart in reports without revealing them."""
        return hashlib.sha256(b"coacheval-key-fingerprint:" + self.secret).hexdigest()[:12]

    def pseudonym(self, identifier: str) -> str:
        """Return the pseudonym of one identifier."""
        digest = hashlib.blake2b(identifier.encode("utf-8"), key=self._mac_key, digest_size=8)
        return "P" + digest.hexdigest().upper()

    @property
    def _mac_key(self) -> bytes:
        # BLAKE2b takes keys of at most 64 bytes; longer secrets are hashed down first.
        return self.secret if len(self.secret) <= 64 else hashlib.sha512(self.secret).digest()

    def apply(self, values: pd.Series) -> pd.Series:
        """Pseudonymise a column (missing values stay missing)."""
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        mapped = np.array([self.pseudonym(str(u)) for u in uniques] + [None], dtype=object)
        return pd.Series(mapped[codes], index=values.index, dtype=object)

    @classmethod
    def from_file(cls, path: str | Path, *, create: bool = False) -> PseudonymKey:
        """Read a key file (created with a random key when ``create`` and it does not exist).

        Raises
        ------
        ConfigError
            The file is missing (and not to be created), unreadable or too short.
        """
        path = Path(path)
        if not path.exists():
            if not create:
                raise ConfigError("pseudonym key file not found", source=str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
            path.chmod(0o600)
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the pseudonym key ({exc})", source=str(path)) from exc
        return cls(text.encode("ascii"))

    @classmethod
    def from_env(cls) -> PseudonymKey | None:
        """Return the key in ``COACHEVAL_PSEUDONYM_KEY``, if set."""
        value = os.environ.get(KEY_ENV)
        return cls(value.strip().encode("utf-8")) if value else None


def looks_like_pii(column: str, values: pd.Series) -> str | None:
    """Say why a column not in the data contract looks like personal data, or ``None``.

    Examples
    --------
    >>> looks_like_pii("Contact", pd.Series(["a.b@x.example", "c@y.example"]))
    'its values look like e-mail addresses'
    >>> looks_like_pii("Shift", pd.Series(["day", "night"])) is None
    True
    """
    lowered = column.lower()
    for hint in _PII_NAME_HINTS:
        if hint in lowered:
            return f"its name suggests personal data ({hint!r})"
    sample = values.dropna().astype(str).head(200)
    if len(sample):
        if sample.str.fullmatch(_EMAIL).mean() > 0.5:
            return "its values look like e-mail addresses"
        if sample.str.fullmatch(_PHONE).mean() > 0.5 and sample.str.count(r"\d").mean() >= 7:
            return "its values look like phone numbers"
    return None
