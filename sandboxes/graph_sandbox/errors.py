"""Graph's OData error envelope and the errors the stand-in answers with (reference §8)."""

from __future__ import annotations


class GraphError(Exception):
    """A whole request failing: ``{"error": {"code", "message", "innerError"}}`` with a status."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def id_malformed() -> GraphError:
    return GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")


def access_denied() -> GraphError:
    return GraphError(
        403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
    )


def policy_denied() -> GraphError:
    """An application access policy keeps this app out of the mailbox (reference §9)."""
    return GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")


def invalid_user(user: str) -> GraphError:
    return GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")


def resource_not_found(path: str) -> GraphError:
    return GraphError(
        400,
        "BadRequest",
        f"Resource not found for the segment '{path}'.",
    )


def invalid_token(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        headers={
            "WWW-Authenticate": 'Bearer realm="", authorization_uri='
            '"https://login.microsoftonline.com/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"'
        },
    )


def irresolvable_conflict() -> GraphError:
    return GraphError(
        412,
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in "
        "the request does not match the current change key for the item.",
    )


def sync_state_not_found(generation: int, highest: int) -> GraphError:
    """An expired or unknown delta/skip token: 410 as observed (reference §2, §0.10)."""
    return GraphError(
        410,
        "SyncStateNotFound",
        f"The sync state generation is not found; generation={generation};[highest={highest}]",
    )


def throttled(retry_after: int, message: str) -> GraphError:
    return GraphError(
        429, "ApplicationThrottled", message, headers={"Retry-After": str(retry_after)}
    )


def envelope(err: GraphError, *, date: str, request_id: str, client_request_id: str) -> dict:
    return {
        "error": {
            "code": err.code,
            "message": err.message,
            "innerError": {
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }
