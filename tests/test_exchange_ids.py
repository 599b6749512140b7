"""One convention, two copies: contact-mapping (which does not depend on exchange-mailbox) and
exchange-mailbox tell an Exchange id's protocol alike (SPEC S13.2)."""

from __future__ import annotations

import pytest
from contact_mapping.exchange_ids import GRAPH_PREFIX, exchange_protocol
from exchange_mailbox.interface import GRAPH_ID_PREFIX, id_protocol


@pytest.mark.spec("S13.2")
@pytest.mark.parametrize(
    "item_id",
    ["graph:AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A", "AAMkAGI2TG93AAA=", "AAMk/+1=", "", "graph"],
)
def test_both_packages_tell_an_id_protocol_alike(item_id: str) -> None:
    assert GRAPH_PREFIX == GRAPH_ID_PREFIX
    assert exchange_protocol(item_id) == id_protocol(item_id)
