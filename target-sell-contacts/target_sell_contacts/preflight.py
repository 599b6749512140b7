"""Checks made once per run before any write (S10.3): token, reachability, custom fields."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from singer_sdk.exceptions import ConfigurationError, ConfigValidationError

from target_sell_contacts.sell_client import AuthError, SellClient, SellError

RESOURCES = ("contact", "lead")


class SetupError(ConfigValidationError):
    """Bad configuration or credentials, found before anything was written. The SDK logs the
    message and "Config validation failed" (no traceback), as the Exchange plugins do; an
    orchestrator then marks the tenant as needing attention instead of retrying (S10.3)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])


class SellUnavailableError(ConfigurationError):
    """Sell could not be reached, or answered 429/5xx, through all retries: maybe transient
    (S10.2), so not a configuration verdict; the message still names ``api_url``."""


def _refused(message: str, exc: SellError) -> SetupError | SellUnavailableError:
    """A refusal (401/403, another 4xx) is configuration; no answer, 429 or 5xx may pass."""
    status = exc.status or 0
    if isinstance(exc, AuthError) or (400 <= status < 500 and status != 429):
        return SetupError(message)
    return SellUnavailableError(message)


@dataclass
class AccountFields:
    """Which of the configured custom fields exist, per resource (``contact`` / ``lead``)."""

    exchange_id: dict[str, str | None] = field(default_factory=dict)
    overwritten: dict[str, str | None] = field(default_factory=dict)
    types: dict[str, dict[str, str]] = field(default_factory=dict)


def check_account(
    client: SellClient,
    *,
    exchange_id_field: str | None,
    overwritten_values_field: str | None,
    logger: logging.Logger,
) -> AccountFields:
    """Token works, and the configured custom fields exist (or their fallback is announced)."""
    try:
        user = client.self_user()
    except AuthError as exc:
        msg = (
            f"api_token: Sell refused the token ({exc.status} {exc.code or 'unauthorized'}); "
            "check the api_token setting (a 64-character personal access token)"
        )
        raise SetupError(msg) from None
    except SellError as exc:
        msg = f"api_url: cannot use the Sell API at {client.base} ({exc})"
        raise _refused(msg, exc) from None
    logger.info("Sell token works (user id %s)", user.get("id"))
    found = AccountFields()
    for resource in RESOURCES:
        try:
            definitions = client.custom_fields(resource)
        except SellError as exc:
            msg = f"api_token: cannot read the {resource} custom fields of the account ({exc})"
            raise _refused(msg, exc) from None
        found.types[resource] = {d["name"]: d.get("type", "") for d in definitions}
    by_name = {r: {n.casefold(): n for n in found.types[r]} for r in RESOURCES}
    for resource in RESOURCES:
        exch = by_name[resource].get(exchange_id_field.casefold()) if exchange_id_field else None
        over = (
            by_name[resource].get(overwritten_values_field.casefold())
            if overwritten_values_field
            else None
        )
        found.exchange_id[resource] = exch
        found.overwritten[resource] = over
    if exchange_id_field and found.exchange_id["contact"] is None:
        known = ", ".join(sorted(found.types["contact"])) or "none"
        msg = (
            f"exchange_id_field: the Sell account has no contact custom field named "
            f"{exchange_id_field!r} (it has: {known}); create it in Sell (Settings > Customize) "
            "or unset exchange_id_field"
        )
        raise SetupError(msg)
    if exchange_id_field and found.exchange_id["lead"] is None:
        logger.warning(
            "exchange_id_field: leads have no custom field %r; linked leads will not carry "
            "the Exchange id",
            exchange_id_field,
        )
    for resource in RESOURCES:
        if overwritten_values_field and found.overwritten[resource] is None:
            logger.warning(
                "overwritten_values_field: %ss have no custom field %r; values lost in a "
                "conflict go to a note on the %s instead",
                resource,
                overwritten_values_field,
                resource,
            )
        elif not overwritten_values_field:
            logger.info(
                "overwritten_values_field is not set; values lost in a conflict go to notes"
            )
            break
    return found
