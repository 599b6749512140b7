"""Sell's error envelope (reference §2.4): every 4xx/5xx answer is built here."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

from aiohttp import web

MORE_INFO = "https://developers.getbase.com/docs/rest/articles/errors"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass
class ErrorItem:
    """One entry of ``errors[]``; ``resource``/``field`` only for resource (422) errors."""

    code: str
    message: str
    details: str
    resource: str | None = None
    field: str | None = None

    def as_json(self) -> dict:
        error: dict = {}
        if self.resource is not None:
            error["resource"] = self.resource
        if self.field is not None:
            error["field"] = self.field
        error.update(code=self.code, message=self.message, details=self.details)
        return {"error": error, "meta": {"type": "error", "links": {"more_info": MORE_INFO}}}


@dataclass
class SellError(Exception):
    """Raised anywhere in a handler; the middleware turns it into the error envelope."""

    status: int
    errors: list[ErrorItem] = field(default_factory=list)

    @classmethod
    def single(cls, status: int, code: str, message: str, details: str) -> SellError:
        return cls(status, [ErrorItem(code, message, details)])


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_response(status: int, errors: list[ErrorItem], request_id: str) -> web.Response:
    """Build the envelope; ``meta.logref`` equals the ``X-Request-Id`` header."""
    phrase = HTTPStatus(status).phrase
    body = {
        "errors": [item.as_json() for item in errors],
        "meta": {
            "type": "errors",
            "http_status": f"{status} {phrase}",
            "logref": request_id,
            "links": {"more_info": MORE_INFO},
        },
    }
    return json_response(body, status=status, request_id=request_id)


def json_response(body: object, *, status: int = 200, request_id: str) -> web.Response:
    return raw_json_response(
        json.dumps(body, ensure_ascii=False).encode("utf-8"), status=status, request_id=request_id
    )


def raw_json_response(payload: bytes, *, status: int = 200, request_id: str) -> web.Response:
    return web.Response(
        status=status,
        body=payload,
        headers={
            "Content-Type": JSON_CONTENT_TYPE,
            "X-Request-Id": request_id,
            "Content-Language": "en",
        },
    )


# Constructors for the request errors of the code catalogue (reference §2.4).


def unauthorized() -> SellError:
    return SellError.single(
        401,
        "unauthorized",
        "unauthorized",
        "Required access token is missing, malformed, expired, or invalid.",
    )


def not_found(resource: str, ident: object) -> SellError:
    return SellError.single(
        404,
        "not_found",
        "not found",
        f"The requested {resource} with id '{ident}' could not be found.",
    )


def incorrect_path(path: str) -> SellError:
    return SellError.single(
        404, "incorrect_path", "incorrect path", f"The request path '{path}' is not supported."
    )


def invalid_param(details: str) -> SellError:
    return SellError.single(400, "invalid_param", "invalid request query parameter", details)


def malformed_param(name: str, hint: str) -> SellError:
    return invalid_param(
        f"The request query parameter '{name}' is malformed, missing, or has an invalid value"
        f" ({hint})"
    )


def invalid_payload(details: str) -> SellError:
    return SellError.single(400, "invalid_payload", "invalid request payload", details)


def incorrect_payload(details: str) -> SellError:
    return SellError.single(422, "incorrect_payload", "request payload is incorrect", details)


def rate_limited() -> SellError:
    return SellError.single(
        429,
        "rate_limit_exceeded",
        "rate limit exceeded",
        "The number of requests sent with this access token exceeded the rate limit.",
    )


def server_error() -> SellError:
    return SellError.single(
        500, "server_error", "server error", "The server encountered an unexpected condition."
    )


def temporarily_unavailable() -> SellError:
    return SellError.single(
        503,
        "temporarily_unavailable",
        "temporarily unavailable",
        "The service is temporarily unavailable. Please retry later.",
    )


def method_not_allowed(method: str, path: str) -> SellError:
    return SellError.single(
        405,
        "method_not_allowed",
        "method not allowed",
        f"The method {method} is not allowed for '{path}'.",
    )


def not_acceptable(accept: str) -> SellError:
    return SellError.single(
        406,
        "invalid_header",
        "invalid request header",
        f"The request header 'Accept' has an unsupported value: '{accept}'.",
    )


def conflict(details: str) -> SellError:
    return SellError.single(409, "conflict", "conflict", details)


# Resource (422) errors; ``field`` is a JSON pointer into ``data``.

RESOURCE_MESSAGES = {
    "unknown": "unknown attribute",
    "missing": "attribute is missing",
    "blank": "attribute cannot be blank",
    "invalid_type": "attribute value has invalid type",
    "incorrect_value": "attribute value is incorrect",
    "already_exists": "resource already exists",
}


def resource_error(resource: str, pointer: str, code: str, details: str) -> ErrorItem:
    return ErrorItem(code, RESOURCE_MESSAGES[code], details, resource=resource, field=pointer)
