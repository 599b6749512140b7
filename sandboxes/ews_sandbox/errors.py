"""The EWS errors the sandbox answers with, as exceptions the operations raise."""

from __future__ import annotations


class EwsError(Exception):
    """One ResponseMessage with ``ResponseClass="Error"`` (the request as a whole succeeds)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class SoapFaultError(Exception):
    """A whole-request failure answered as a SOAP Fault with HTTP 500, as Exchange does."""

    def __init__(
        self, code: str, text: str, *, values: dict[str, str] | None = None, status: int = 500
    ) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.values = values or {}
        self.status = status


def item_not_found() -> EwsError:
    return EwsError(
        "ErrorItemNotFound",
        "The specified object was not found in the store., "
        "The process failed to get the correct properties.",
    )


def folder_not_found() -> EwsError:
    return EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")


def access_denied() -> EwsError:
    return EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def id_malformed() -> EwsError:
    return EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
