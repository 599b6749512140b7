"""Graph v1.0 paths: which resource a URL names, its stats template and the permission it needs.

Paths are matched segment by segment (Graph is case-insensitive about segment names, not ids),
so a nested ``contactFolders/{id}/childFolders/{id}/…/contacts`` resolves like a flat one, and
``delta`` and ``delta()`` (msgraph-sdk's spelling, reference §0.9) are the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from graph_sandbox.errors import GraphError, bad_request, resource_not_found

# Permission families (application permissions, reference §1).
CONTACTS, SETTINGS = "Contacts", "MailboxSettings"


@dataclass
class Route:
    """What a path names. ``folders`` is the chain of folder ids after ``contactFolders``."""

    resource: str  # contacts | contact | folders | folder | childFolders | delta | categories ...
    user: str | None = None  # None: /me
    folders: list[str] = field(default_factory=list)
    item: str | None = None
    category: str | None = None
    template: str = ""
    family: str = CONTACTS

    @property
    def user_segment(self) -> str:
        return "me" if self.user is None else f"users/{self.user}"


def _is(segment: str, name: str) -> bool:
    return segment.lower() == name.lower()


def _is_delta(segment: str) -> bool:
    return segment.lower() in ("delta", "delta()")


def parse_path(path: str) -> Route:
    """``path`` is what follows ``/v1.0/`` (already percent-decoded), without the query."""
    segments = [s for s in path.split("/") if s != ""]
    if not segments:
        raise resource_not_found("")
    if segments == ["$batch"]:
        return Route("batch", template="/v1.0/$batch")
    if _is(segments[0], "me"):
        user, rest, template = None, segments[1:], ["me"]
    elif _is(segments[0], "users") and len(segments) >= 2:
        user, rest, template = segments[1], segments[2:], ["users", "{id}"]
    else:
        raise resource_not_found(segments[0])
    route = _parse_user_path(rest, template)
    route.user = user
    route.template = "/v1.0/" + "/".join(template)
    return route


def _parse_user_path(rest: list[str], template: list[str]) -> Route:
    if not rest:
        raise GraphError(
            400, "BadRequest", "The sandbox serves a user's contacts, folders and categories only."
        )
    head, tail = rest[0], rest[1:]
    if _is(head, "contacts"):
        template.append("contacts")
        return _parse_contacts(tail, template, folders=[])
    if _is(head, "contactFolders"):
        template.append("contactFolders")
        if not tail:
            return Route("childFolders", folders=[])
        if _is_delta(tail[0]) and len(tail) == 1:
            template.append("delta")
            return Route("folderDelta")
        return _parse_folder(tail, template, folders=[])
    if _is(head, "outlook") and tail and _is(tail[0], "masterCategories"):
        template += ["outlook", "masterCategories"]
        if len(tail) == 1:
            return Route("categories", family=SETTINGS)
        if len(tail) == 2:
            template.append("{id}")
            return Route("category", category=tail[1], family=SETTINGS)
        raise resource_not_found(tail[2])
    if _is(head, "translateExchangeIds") and not tail:
        template.append("translateExchangeIds")
        return Route("translateExchangeIds", family="User")
    raise resource_not_found(head)


def _parse_folder(rest: list[str], template: list[str], folders: list[str]) -> Route:
    folders = [*folders, rest[0]]
    template.append("{id}")
    tail = rest[1:]
    if not tail:
        return Route("folder", folders=folders)
    head = tail[0]
    if _is(head, "childFolders"):
        template.append("childFolders")
        if len(tail) == 1:
            return Route("childFolders", folders=folders)
        return _parse_folder(tail[1:], template, folders)
    if _is(head, "contacts"):
        template.append("contacts")
        return _parse_contacts(tail[1:], template, folders)
    if _is(head, "permanentDelete") and len(tail) == 1:
        template.append("permanentDelete")
        return Route("folderPermanentDelete", folders=folders)
    raise resource_not_found(head)


def _parse_contacts(tail: list[str], template: list[str], folders: list[str]) -> Route:
    if not tail:
        return Route("contacts", folders=folders)
    if _is_delta(tail[0]):
        if len(tail) > 1:
            raise resource_not_found(tail[1])
        template.append("delta")
        return Route("delta", folders=folders)
    template.append("{id}")
    if len(tail) == 1:
        return Route("contact", folders=folders, item=tail[0])
    if len(tail) == 2 and _is(tail[1], "permanentDelete"):
        template.append("permanentDelete")
        return Route("contactPermanentDelete", folders=folders, item=tail[0])
    raise resource_not_found(tail[1])


def is_write(method: str, route: Route) -> bool:
    """Writes change the mailbox; translateExchangeIds is a POST that only reads."""
    return method in ("POST", "PATCH", "PUT", "DELETE") and route.resource != "translateExchangeIds"


def split_url(url: str) -> tuple[str, str]:
    """A ``$batch`` request's relative url as (path after the version, query string)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise bad_request("A batch request url must be relative to the version root.")
    path = unquote(parts.path).lstrip("/")
    if path.lower().startswith("v1.0/"):
        path = path[len("v1.0/") :]
    return path, parts.query
