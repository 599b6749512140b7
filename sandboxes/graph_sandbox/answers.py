"""What a Graph handler returns, and the OData payload shapes (entity, collection, no content).

Each answer names the CSDL entity type it carries, so ``--record-responses`` can hand every
contact, folder and category payload to the schema check in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph_sandbox.call import GraphCall


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    entity_type: str | None = None  # contact | contactFolder | outlookCategory
    shape: str = "none"  # entity | collection | none


def context_url(call: GraphCall, fragment: str) -> str:
    return f"{call.base_url}/v1.0/$metadata#{fragment}"


def entity(
    call: GraphCall, entity_type: str, value: dict[str, Any], fragment: str, *, status: int = 200
) -> Answer:
    body = {"@odata.context": context_url(call, fragment), **value}
    return Answer(status, body, entity_type=entity_type, shape="entity")


def collection(
    call: GraphCall,
    entity_type: str,
    values: list[dict[str, Any]],
    fragment: str,
    next_link: str | None = None,
    *,
    delta_link: str | None = None,
) -> Answer:
    body: dict[str, Any] = {"@odata.context": context_url(call, fragment)}
    if next_link:
        body["@odata.nextLink"] = next_link
    body["value"] = values
    if delta_link:
        body["@odata.deltaLink"] = delta_link
    return Answer(200, body, entity_type=entity_type, shape="collection")


def no_content() -> Answer:
    return Answer(204)


def select_fields(value: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """Keep ``id``, annotations and the selected properties (Graph always returns ``id``)."""
    if select is None:
        return value
    wanted = {"id", *select}
    return {k: v for k, v in value.items() if k.startswith("@") or k in wanted}


def parse_select(select: list[str] | None) -> str:
    """The ``$select=…&`` part of a next link (empty without a selection)."""
    return f"$select={','.join(select)}&" if select else ""
