"""Shared transform of the Exchange ⇄ Sell contact sync.

Canonical contact and field maps (SPEC S8), Sell category rules (S2/S3), matching (S4), the
three-way merge with its base-update rule (S5, S7) and, in ``contact_mapping.ledger``, the sync
ledger with its crash-safe create protocol. See README.md for the API.
"""

from contact_mapping.canonical import (
    MAPPED_FIELDS,
    Canonical,
    field_key,
    fingerprint,
    project,
    same_value,
)
from contact_mapping.categories import (
    CATEGORY_COLOURS,
    SELL_CATEGORIES,
    category_for_guid,
    category_guid,
    category_guid_text,
    merge_categories,
    sell_categories,
)
from contact_mapping.exchange_map import (
    from_exchange,
    is_exchange_organization,
    merge_indexed,
    to_exchange_fields,
)
from contact_mapping.matching import Candidate, Indexed, Match, MatchIndex
from contact_mapping.merge import (
    Decision,
    MergeResult,
    Overwritten,
    SnapshotValues,
    append_overwritten,
    changed_fields,
    format_overwritten,
    merge,
    next_base,
    next_snapshot,
)
from contact_mapping.normalize import (
    email_problem,
    normalize_email,
    normalize_phone,
    normalize_text,
    phone_key,
)
from contact_mapping.planning import Action, WritePlan, plan_write
from contact_mapping.sell_map import (
    from_sell_contact,
    from_sell_lead,
    sell_company_change,
    to_sell_contact_payload,
    to_sell_lead_payload,
)

__all__ = [
    "CATEGORY_COLOURS",
    "MAPPED_FIELDS",
    "SELL_CATEGORIES",
    "Action",
    "Candidate",
    "Canonical",
    "Decision",
    "Indexed",
    "Match",
    "MatchIndex",
    "MergeResult",
    "Overwritten",
    "SnapshotValues",
    "WritePlan",
    "append_overwritten",
    "category_for_guid",
    "category_guid",
    "category_guid_text",
    "changed_fields",
    "email_problem",
    "field_key",
    "fingerprint",
    "format_overwritten",
    "from_exchange",
    "from_sell_contact",
    "from_sell_lead",
    "is_exchange_organization",
    "merge",
    "merge_categories",
    "merge_indexed",
    "next_base",
    "next_snapshot",
    "normalize_email",
    "normalize_phone",
    "normalize_text",
    "phone_key",
    "plan_write",
    "project",
    "same_value",
    "sell_categories",
    "sell_company_change",
    "to_exchange_fields",
    "to_sell_contact_payload",
    "to_sell_lead_payload",
]
