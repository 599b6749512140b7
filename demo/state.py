"""Both sides' final state in protocol-neutral terms, so runs over EWS and Graph compare as equal.

Ids, change keys and clock stamps differ from run to run and protocol to protocol; what a person
sees does not: each Sell record's kind, statuses, mapped fields (canonical form) and kept
conflict values, and each Exchange contact's folder, display name, mapped fields, categories
and the kind of Sell record it is linked to. Each side is a sorted list of rows: order never
matters.
"""

from __future__ import annotations

import json
import re
from typing import Any

from contact_mapping.canonical import Canonical
from contact_mapping.exchange_map import from_exchange
from exchangelib import Account
from sell_sandbox.client import SellSandboxClient

from demo.agreement import exchange_records, sell_records

OVERWRITTEN_FIELD = "Overwritten values"  # the demo environment's overwritten_values_field
# A kept value's line starts with when it was overwritten: a clock stamp, not state.
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ")


def _fields(canonical: Canonical) -> dict[str, str]:
    return {name: value for name, value in canonical.values().items() if value}


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, ensure_ascii=False))


def sell_rows(api: SellSandboxClient) -> list[dict[str, Any]]:
    rows = []
    for ref, (rec, canonical) in sell_records(api).items():
        kind = ref.split(":", maxsplit=1)[0]
        row: dict[str, Any] = {"kind": kind, "fields": _fields(canonical)}
        if kind == "contact":
            kept = str((rec.get("custom_fields") or {}).get(OVERWRITTEN_FIELD) or "")
            row |= {
                "organization": bool(rec.get("is_organization")),
                "prospect_status": rec.get("prospect_status"),
                "customer_status": rec.get("customer_status"),
                "overwritten": [_STAMP.sub("", line) for line in kept.splitlines()],
            }
        rows.append(row)
    return _sorted(rows)


def exchange_rows(account: Account) -> list[dict[str, Any]]:
    rows = []
    for record in exchange_records(account):
        link = record.get("sell_link")
        rows.append(
            {
                "folder": record["folder_path"],
                "display_name": record.get("display_name"),  # Outlook's, even where unmapped
                "fields": _fields(from_exchange(record)),
                "categories": sorted(record["categories"]),
                "linked_to": link.split(":", maxsplit=1)[0] if link else None,
            }
        )
    return _sorted(rows)


def final_state(api: SellSandboxClient, account: Account) -> dict[str, list[dict[str, Any]]]:
    return {"sell": sell_rows(api), "exchange": exchange_rows(account)}
