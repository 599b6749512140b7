"""Exchange item ids are case-sensitive base64; Sell string filters may not be (S4.2, S7.2).

Found by the crash matrix: with ``exchange_id_field`` set, target-sell-contacts creates through
``POST /v2/contacts/upsert?custom_fields[Exchange ID]=<EWS id>``. Sell's filter semantics
(exact vs case-insensitive) are UNVERIFIED in the reference and the sandbox matches strings
case-insensitively, so an id that differs from an earlier one only in letter case (very common:
ids of one mailbox share a long prefix and differ in a counter's last characters) updates that
earlier contact instead of creating a new one: contacts are overwritten and lost.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sell_sandbox.client import SellSandboxClient

from tests.conftest import PASSWORD, make_token
from tests.reliability.end_state import EXCHANGE_ID_FIELD, end_state
from tests.reliability.plugins import TargetRunner, capture, tap_config, target_config
from tests.reliability.seeding import create_exchange

pytestmark = [pytest.mark.e2e, pytest.mark.spec("S4.2", "S7.2")]

MAILBOX = "ids@case.example"
COUNT = 80


def test_ids_differing_only_in_case_get_their_own_sell_contacts(sandboxes_factory, tmp_path):
    token = make_token("ids-case")
    sell, ews = sandboxes_factory(
        ["--rate-limit", "0", "--token", token],
        ["--seed", "0", "--mailbox", f"{MAILBOX}:{PASSWORD}"],
    )
    specs = [
        {"given_name": f"Id{i}", "surname": "Case", "email": f"id{i}@case.example",
         "categories": ["Clients"]}
        for i in range(COUNT)
    ]  # fmt: skip
    ids = create_exchange(ews, MAILBOX, specs)
    folded = Counter(i.casefold() for i in ids)
    assert any(n > 1 for n in folded.values()), "precondition: ids that differ only in case"

    singer = capture(
        "tap-exchange-contacts",
        tap_config("tap-exchange-contacts", sell, ews, token, MAILBOX),
        tmp_path / "exchange.singer",
    )
    config = target_config(
        "target-sell-contacts", sell, ews, token, MAILBOX, tmp_path,
        exchange_id_field=EXCHANGE_ID_FIELD,
    )  # fmt: skip
    run = TargetRunner("target-sell-contacts", config, singer, tmp_path).run()
    assert run.returncode == 0

    people = SellSandboxClient(sell.base_url, token).all("contacts")
    emails = sorted(p["email"] for p in people)
    assert emails == sorted(f"id{i}@case.example" for i in range(COUNT))
    markers = sorted(p["custom_fields"].get(EXCHANGE_ID_FIELD) for p in people)
    assert markers == sorted(ids)
    state = end_state(sell, ews, token, MAILBOX)
    assert not state.duplicates()
    assert not state.link_problems(tmp_path / "ledger.db")
