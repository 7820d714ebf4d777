"""Field normalization for each destination type, as the marketing tools expect it.

Every function takes one value (a string or ``None``) and returns the text to send,
or ``None`` when nothing usable is left. ``InvalidValue`` means the row cannot be
sent at all, and the sync records it in ``activation.failed_rows`` with the message.

Rules by vendor:

- ``mailchimp``: audience import CSV in UTF-8 with the columns ``Email Address``,
  ``First Name`` and ``Last Name``. Mailchimp clips text fields at 255 bytes
  ("Format Guidelines for Your Import File", Mailchimp help), so text is cut to the
  byte limit at a character boundary here, where the cut is predictable.
- ``google_ads``: Customer Match. Email lowercased and trimmed; for gmail.com and
  googlemail.com the local part loses its dots and any ``+suffix``. Phone in E.164
  with the leading ``+``. Names lowercased and trimmed. Each of these is then
  SHA-256 hex. Country code and postal code are sent unhashed.
- ``meta``: Custom Audiences. Email lowercased and trimmed (no gmail rule). Phone as
  digits only, with the country code and without ``+``. ``fn``/``ln`` lowercased,
  letters only. ``ct`` lowercased without spaces. ``country`` as the lowercase
  two-letter code. All of them SHA-256 hex of the UTF-8 text.

A value that already is 64 lowercase hex digits counts as hashed upstream and is
sent as it is, never hashed twice.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}
# RFC 5321 allows 254 characters in a forward path, so no longer address delivers.
MAX_EMAIL_LENGTH = 254
MAILCHIMP_TEXT_MAX_BYTES = 255


class InvalidValue(ValueError):
    """A value that the destination would reject, so its row is not sent."""


def is_sha256_hex(value: str | None) -> bool:
    return value is not None and SHA256_HEX.fullmatch(value) is not None


def sha256_hex(value: str | None) -> str | None:
    """Hash the UTF-8 text, unless it is empty or already a SHA-256 hex digest."""
    if value is None or value == "":
        return None
    if is_sha256_hex(value):
        return value
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = unicodedata.normalize("NFC", str(value)).strip()
    return stripped or None


def truncate_utf8(value: str | None, max_bytes: int) -> str | None:
    """Cut ``value`` to at most ``max_bytes`` bytes of UTF-8 without splitting a
    character, where a character is one code point after NFC normalization."""
    if value is None:
        return None
    encoded = value.encode("utf-8")
    if len(encoded) <= max_bytes:
        return value
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def plain_email(value: str | None) -> str | None:
    """Lowercase and trim an email address; reject one without a local part and
    domain, with spaces, or longer than any deliverable address."""
    email = _text(value)
    if email is None or is_sha256_hex(email):
        return email
    email = email.lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        raise InvalidValue("email is not an address of the form local@domain")
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidValue(f"email is longer than {MAX_EMAIL_LENGTH} characters")
    return email


def mailchimp_email(value: str | None) -> str | None:
    email = plain_email(value)
    if email is not None and not email.partition("@")[0].isascii():
        raise InvalidValue("Mailchimp accepts non-ASCII characters only after the @")
    return email


def google_email(value: str | None) -> str | None:
    email = plain_email(value)
    if email is None or is_sha256_hex(email):
        return email
    local, _, domain = email.rpartition("@")
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise InvalidValue("gmail address has no local part left")
    return f"{local}@{domain}"


def e164_phone(value: str | None, region: str | None = None) -> str | None:
    """Parse a phone number (E.164 already, or national in ``region``) into E.164."""
    phone = _text(value)
    if phone is None or is_sha256_hex(phone):
        return phone
    try:
        parsed = phonenumbers.parse(phone, (region or "").upper() or None)
    except phonenumbers.NumberParseException as error:
        raise InvalidValue(f"phone number does not parse: {error}") from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue("phone number is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def meta_phone(value: str | None, region: str | None = None) -> str | None:
    text = _text(value)
    if text is not None and text.isdigit() and not region:
        # Meta's own form: digits with the country code and no "+".
        value = f"+{text}"
    phone = e164_phone(value, region)
    if phone is None or is_sha256_hex(phone):
        return phone
    return phone.removeprefix("+")


def lower_trimmed(value: str | None) -> str | None:
    text = _text(value)
    return text.lower() if text is not None and not is_sha256_hex(text) else text


def letters_only(value: str | None) -> str | None:
    text = lower_trimmed(value)
    if text is None or is_sha256_hex(text):
        return text
    return "".join(c for c in text if c.isalpha()) or None


def without_spaces(value: str | None) -> str | None:
    text = lower_trimmed(value)
    if text is None or is_sha256_hex(text):
        return text
    return "".join(c for c in text if not c.isspace()) or None


def country_code(value: str | None) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if len(text) != 2 or not text.isalpha() or not text.isascii():
        raise InvalidValue("country is not a two-letter ISO 3166-1 code")
    return text.upper()


def meta_country(value: str | None) -> str | None:
    text = _text(value)
    if is_sha256_hex(text):
        return text
    code = country_code(text)
    return code.lower() if code is not None else None


def postal_code(value: str | None) -> str | None:
    return _text(value)


def hashed(normalize: Callable[..., str | None]) -> Callable[..., str | None]:
    def normalize_and_hash(value, *args):
        return sha256_hex(normalize(value, *args))

    return normalize_and_hash


@dataclass(frozen=True)
class VendorField:
    """One column a destination type accepts, with how its value is prepared."""

    normalize: Callable[..., str | None]
    # The phone normalizers read a national number in the row's country.
    needs_region: bool = False


VENDOR_FIELDS: dict[str, dict[str, VendorField]] = {
    "mailchimp": {
        "Email Address": VendorField(mailchimp_email),
        "First Name": VendorField(_text),
        "Last Name": VendorField(_text),
    },
    "google_ads": {
        "Email": VendorField(hashed(google_email)),
        "Phone": VendorField(hashed(e164_phone), needs_region=True),
        "First Name": VendorField(hashed(lower_trimmed)),
        "Last Name": VendorField(hashed(lower_trimmed)),
        "Country": VendorField(country_code),
        "Zip": VendorField(postal_code),
    },
    "meta": {
        "email": VendorField(hashed(plain_email)),
        "phone": VendorField(hashed(meta_phone), needs_region=True),
        "fn": VendorField(hashed(letters_only)),
        "ln": VendorField(hashed(letters_only)),
        "ct": VendorField(hashed(without_spaces)),
        "country": VendorField(hashed(meta_country)),
    },
}

# Columns a row must have at least one of, or the destination cannot match it.
IDENTIFYING_FIELDS = {
    "mailchimp": ("Email Address",),
    "google_ads": ("Email", "Phone"),
    "meta": ("email", "phone"),
}

# The destination's own key for a person: the column that updates and removals match.
DEFAULT_KEYS = {"mailchimp": "Email Address", "google_ads": "Email", "meta": "email"}

# Per-field byte limits applied after normalization, by type.
DEFAULT_MAX_BYTES = {
    "mailchimp": {
        "First Name": MAILCHIMP_TEXT_MAX_BYTES,
        "Last Name": MAILCHIMP_TEXT_MAX_BYTES,
    },
}
