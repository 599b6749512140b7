"""Value normalisation shared by every field map.

Both systems must agree on when two values are "the same", or every run would see phantom edits.
Phones go through phonenumbers, e-mail addresses are trimmed and case-folded (email-validator only
reports problems; an address it dislikes is still synced, never silently dropped), and all text is
NFC-normalised with trimmed whitespace and "\\n" line ends, the empty string counting as None.
phonenumbers and email-validator (with dnspython) are imported at their first use: a run with
nothing to sync never needs them, and importing them costs each target ~0.1 CPU-seconds.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import phonenumbers

DEFAULT_REGION = "US"
_NON_DIGITS = re.compile(r"\D+")


def normalize_text(value: object) -> str | None:
    """NFC, "\\n" line ends, trimmed; empty → None. Idempotent."""
    if value is None:
        return None
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    # NFC then strip may expose new composition boundaries; loop until stable (bounded).
    for _ in range(4):
        nxt = unicodedata.normalize("NFC", text).strip()
        if nxt == text:
            break
        text = nxt
    return text or None


def normalize_email(value: object) -> str | None:
    """Trimmed and case-folded, so ``Ann@X.com `` and ``ann@x.com`` compare equal."""
    text = normalize_text(value)
    # Case folding can leave non-NFC sequences behind; normalise again so the result is stable.
    return normalize_text(text.casefold()) if text else None


def email_problem(value: str | None) -> str | None:
    """Why the address looks invalid (for the report), or None when it is fine or blank."""
    if not value:
        return None
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415 - see top

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def _parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    import phonenumbers  # noqa: PLC0415 - see the module's docstring

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _format_phone(number: phonenumbers.PhoneNumber) -> str:
    import phonenumbers  # noqa: PLC0415 - see the module's docstring

    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164} ext. {number.extension}" if number.extension else e164


def normalize_phone(value: object, region: str = DEFAULT_REGION) -> str | None:
    """E.164 (plus `` ext. N``) for valid numbers; anything else is kept as typed."""
    text = normalize_text(value)
    if text is None:
        return None
    number = _parse_phone(text, region)
    return _format_phone(number) if number is not None else text


def phone_key(value: object, region: str | None = None) -> str | None:
    """What two phones are compared by: E.164 when valid, else the digits as typed.

    Meant for values already through :func:`normalize_phone`, whose valid numbers carry a "+",
    so no region is needed and both sides compare the same way whatever the setting.
    """
    text = normalize_text(value)
    if text is None:
        return None
    number = _parse_phone(text, region) if region or text.startswith("+") else None
    if number is not None:
        return _format_phone(number)
    digits = _NON_DIGITS.sub("", text)
    return f"digits:{digits}" if digits else f"text:{text.casefold()}"


def name_key(*parts: str | None) -> str | None:
    """Full-name match key: case-folded, inner whitespace collapsed, blanks skipped."""
    words = " ".join(p for p in parts if p).split()
    joined = " ".join(words).casefold()
    return unicodedata.normalize("NFC", joined) or None


def to_utc(value: object) -> datetime | None:
    """ISO-8601 string or datetime → aware UTC datetime (naive counts as UTC); None passes."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(value: object) -> str | None:
    """Stable text form for the ledger: ``2024-05-01T10:00:00.123456+00:00`` style, UTC."""
    moment = to_utc(value)
    return moment.isoformat() if moment else None
