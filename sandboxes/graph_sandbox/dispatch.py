"""One table from (resource, method) to handler, shared by plain requests and ``$batch``."""

from __future__ import annotations

from collections.abc import Callable

from graph_sandbox import categories, contacts, delta, folders, id_translation
from graph_sandbox.answers import Answer
from graph_sandbox.call import GraphCall
from graph_sandbox.errors import GraphError

Handler = Callable[[GraphCall], Answer]


def _folder_delete(call: GraphCall) -> Answer:
    raise GraphError(501, "NotImplemented", "The sandbox does not delete contact folders.")


HANDLERS: dict[tuple[str, str], Handler] = {
    ("contacts", "GET"): contacts.list_contacts,
    ("contacts", "POST"): contacts.create_contact,
    ("contact", "GET"): contacts.get_contact,
    ("contact", "PATCH"): contacts.update_contact,
    ("contact", "DELETE"): contacts.delete_contact,
    ("contactPermanentDelete", "POST"): contacts.permanent_delete,
    ("delta", "GET"): delta.contacts_delta,
    ("folderDelta", "GET"): delta.folder_delta,
    ("childFolders", "GET"): folders.list_children,
    ("childFolders", "POST"): folders.create_folder,
    ("folder", "GET"): folders.get_folder,
    ("folder", "PATCH"): folders.update_folder,
    ("folder", "DELETE"): _folder_delete,
    ("folderPermanentDelete", "POST"): _folder_delete,
    ("categories", "GET"): categories.list_categories,
    ("categories", "POST"): categories.create_category,
    ("category", "GET"): categories.get_category,
    ("category", "PATCH"): categories.update_category,
    ("category", "DELETE"): categories.delete_category,
    ("translateExchangeIds", "POST"): id_translation.translate_exchange_ids,
}


def execute(call: GraphCall) -> Answer:
    handler = HANDLERS.get((call.route.resource, call.method))
    if handler is None:
        raise GraphError(405, "ErrorInvalidRequest", "The OData request is not supported.")
    return handler(call)
