"""The aiohttp application: authentication, fault injection, dispatch and statistics."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import sys
import traceback
from collections.abc import Callable

from aiohttp import web
from lxml import etree
from sandbox_common import add_sandbox_routes
from sandbox_common.serve import latency_middleware

from ews_sandbox import (
    ops_autodiscover,
    ops_config,
    ops_convert_id,
    ops_folders,
    ops_items,
    ops_sync,
    soap,
)
from ews_sandbox.context import Context
from ews_sandbox.errors import SoapFaultError
from ews_sandbox.ntlm import NtlmRejectedError
from ews_sandbox.schema_tables import KNOWN_EWS_OPERATIONS, REQUEST_VERSIONS
from ews_sandbox.state import SandboxState
from ews_sandbox.store import Mailbox
from ews_sandbox.xml import PARSER, SOAP_NS, T_NS, elements, local

ENDPOINT = "/EWS/Exchange.asmx"
REALM = "ews-sandbox"
STATE_KEY = web.AppKey("ews_state", SandboxState)
OPERATIONS: dict[str, Callable] = {
    "ConvertId": ops_convert_id.convert_id,
    "GetFolder": ops_folders.get_folder,
    "FindFolder": ops_folders.find_folder,
    "CreateFolder": ops_folders.create_folder,
    "FindItem": ops_items.find_item,
    "GetItem": ops_items.get_item,
    "CreateItem": ops_items.create_item,
    "UpdateItem": ops_items.update_item,
    "DeleteItem": ops_items.delete_item,
    "SyncFolderItems": ops_sync.sync_folder_items,
    "GetUserConfiguration": ops_config.get_user_configuration,
    "CreateUserConfiguration": ops_config.create_user_configuration,
    "UpdateUserConfiguration": ops_config.update_user_configuration,
    "DeleteUserConfiguration": ops_config.delete_user_configuration,
}
WRITE_OPERATIONS = frozenset(
    {"CreateItem", "UpdateItem", "DeleteItem", "CreateFolder", "CreateUserConfiguration",
     "UpdateUserConfiguration", "DeleteUserConfiguration"}
)  # fmt: skip


def _unauthorized(
    state: SandboxState, bearer: bool = False, ntlm_challenge: bytes | None = None
) -> web.Response:
    """401 with one WWW-Authenticate header per offered scheme (NTLM before Basic, as IIS)."""
    headers: list[tuple[str, str]] = []
    if ntlm_challenge is not None:
        headers.append(("WWW-Authenticate", "NTLM " + base64.b64encode(ntlm_challenge).decode()))
    elif bearer:
        headers.append(("WWW-Authenticate", f'Bearer realm="{REALM}", error="invalid_token"'))
    else:
        if state.ntlm is not None:
            headers.append(("WWW-Authenticate", "NTLM"))
        if state.basic:
            headers.append(("WWW-Authenticate", f'Basic realm="{REALM}"'))
    return web.Response(status=401, headers=headers, text="401 Unauthorized")


def authenticate(state: SandboxState, header: str | None) -> Mailbox | None:
    """The mailbox a Basic or Bearer Authorization header proves, or None. Never logs secrets."""
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        for token, mailbox in state.tokens.items():
            if hmac.compare_digest(token.encode(), credentials.strip().encode()):
                return mailbox
        return None
    if scheme.lower() != "basic" or not state.basic:
        return None
    try:
        user, _, password = base64.b64decode(credentials.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user = user.rsplit("\\", 1)[-1].lower()
    mailbox = state.mailboxes.get(user)
    if mailbox is None or mailbox.password is None:
        return None
    if not hmac.compare_digest(mailbox.password.encode(), password.encode()):
        return None
    return mailbox


def _soap_response(
    state: SandboxState, operation: str, payload: bytes, status: int
) -> web.Response:
    state.record(operation, payload)
    return web.Response(body=payload, status=status, content_type="text/xml", charset="utf-8")


def _drop(request: web.Request) -> web.Response:
    """Close the socket without an HTTP answer, as a crashed or cut-off server would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


def _check_header(header: etree._Element | None, *, impersonating: bool = False) -> None:
    if header is None:
        return
    version = header.find(f"{{{T_NS}}}RequestServerVersion")
    if version is not None and version.get("Version") not in REQUEST_VERSIONS:
        raise SoapFaultError(
            "ErrorInvalidServerVersion", "The specified server version is invalid."
        )
    if header.find(f"{{{T_NS}}}ExchangeImpersonation") is not None and not impersonating:
        raise SoapFaultError(
            "ErrorImpersonateUserDenied",
            "The account does not have permission to impersonate the requested user.",
        )


def _caller(
    request: web.Request,
    state: SandboxState,
    operation: str,
    *,
    write: bool,
    envelope: etree._Element | None = None,
) -> tuple[Mailbox, bool] | web.Response:
    """The mailbox the request authenticates as and whether an app token impersonates it there
    (only EWS requests, given with their ``envelope``, may), or the answer to send instead: the
    401 (NTLM challenge included) or the Fault of a refused app token."""
    header = request.headers.get("Authorization")
    scheme, _, credentials = (header or "").partition(" ")
    mailbox: Mailbox | None = None
    impersonating = False
    if state.ntlm is not None and scheme.lower() == "ntlm":
        try:
            answer = state.ntlm.step(request.transport, credentials)
        except NtlmRejectedError:
            answer = None
        if isinstance(answer, bytes):
            state.stats.record(operation, write=write)
            return _unauthorized(state, ntlm_challenge=answer)
        mailbox = answer
    elif header:
        mailbox = authenticate(state, header)
        app_token = scheme.lower() == "bearer" and state.app_bearer is not None
        if mailbox is None and app_token and envelope is not None:
            try:  # an app-only token acts on the mailbox its ExchangeImpersonation header names
                mailbox = state.app_bearer(credentials.strip(), envelope)
            except SoapFaultError as err:
                state.stats.record(operation, write=write)
                return _soap_response(state, "Fault", soap.fault(err), err.status)
            impersonating = mailbox is not None
    elif state.ntlm is not None:  # requests after the handshake carry no Authorization
        mailbox = state.ntlm.authenticated(request.transport)
    if mailbox is None:
        state.stats.record(operation, write=write)
        return _unauthorized(state, bearer=scheme.lower() == "bearer")
    return mailbox, impersonating


async def handle_autodiscover(request: web.Request) -> web.StreamResponse:
    """SOAP Autodiscover GetUserSettings (``ops_autodiscover``), behind the same auth as EWS."""
    state: SandboxState = request.app[STATE_KEY]
    raw = await request.read()
    operation = "GetUserSettings"
    caller = _caller(request, state, operation, write=False)
    if isinstance(caller, web.Response):
        return caller
    state.stats.record(operation, write=False, tenant=caller[0].address)
    try:
        payload = ops_autodiscover.get_user_settings(state, raw, request.host)
    except ops_autodiscover.AutodiscoverRequestError as err:
        payload = ops_autodiscover.request_error(str(err))
    # Not recorded for --record-responses: that checks EWS answers against the EWS schema, and
    # ../shared/ews-schema/ has no Autodiscover schema.
    return web.Response(body=payload, content_type="text/xml", charset="utf-8")


async def handle_soap(request: web.Request) -> web.StreamResponse:
    state: SandboxState = request.app[STATE_KEY]
    raw = await request.read()
    try:
        envelope = etree.fromstring(raw, PARSER)
        body = envelope.find(f"{{{SOAP_NS}}}Body")
        operation_el = elements(body)[0] if body is not None and elements(body) else None
    except etree.XMLSyntaxError:
        envelope = operation_el = None
    if operation_el is None:
        state.stats.record("(invalid)", write=False)
        err = SoapFaultError("ErrorSchemaValidation", "The request failed schema validation.")
        return _soap_response(state, "Fault", soap.fault(err), 500)
    operation = local(operation_el)
    write = operation in WRITE_OPERATIONS
    caller = _caller(request, state, operation, write=write, envelope=envelope)
    if isinstance(caller, web.Response):
        return caller
    mailbox, impersonating = caller
    state.stats.record(operation, write=write, tenant=mailbox.address)

    fault = state.faults.draw()
    if fault:
        state.stats.record_fault(fault)
    if fault == "server_busy":
        busy = SoapFaultError(
            "ErrorServerBusy",
            "The server cannot service this request right now. Try again later.",
            values={"BackOffMilliseconds": str(state.backoff_ms)},
        )
        return _soap_response(state, "Fault", soap.fault(busy), 500)
    if fault == "http_503":
        return web.Response(status=503, text="Service Unavailable")
    if fault == "drop_before":
        return _drop(request)
    if fault == "slow":
        await asyncio.sleep(state.slow_ms / 1000.0)

    try:
        _check_header(envelope.find(f"{{{SOAP_NS}}}Header"), impersonating=impersonating)
        handler = OPERATIONS.get(operation)
        if handler is None:
            if operation in KNOWN_EWS_OPERATIONS:
                raise SoapFaultError(
                    "ErrorInvalidOperation", f"{operation} is not supported by this server."
                )
            raise SoapFaultError(
                "ErrorSchemaValidation",
                f"The request failed schema validation: the element '{operation}' is not a "
                "valid EWS operation.",
            )
        answer = handler(Context(state, mailbox), operation_el)
        payload, status = soap.envelope(answer), 200
    except SoapFaultError as err:
        payload, status = soap.fault(err), err.status
    except Exception:  # a sandbox bug must still look like a server error, not a dropped socket
        traceback.print_exc(file=sys.stderr)
        internal = SoapFaultError(
            "ErrorInternalServerError", "An internal server error occurred. The operation failed."
        )
        payload, status = soap.fault(internal), 500
    if fault == "drop_after":
        return _drop(request)
    return _soap_response(state, operation, payload, status)


def build_app(state: SandboxState, *, latency_ms: float = 0.0) -> web.Application:
    """The SOAP endpoint and the ``/_sandbox`` routes over an already built ``state``."""
    app = web.Application(
        middlewares=[latency_middleware(latency_ms)], client_max_size=64 * 1024 * 1024
    )
    app[STATE_KEY] = state

    async def remove_ntlm_user_file(_app: web.Application) -> None:
        if state.ntlm is not None:
            state.ntlm.close()

    app.on_cleanup.append(remove_ntlm_user_file)
    add_sandbox_routes(app, state.stats)
    app.router.add_post(ENDPOINT, handle_soap)
    app.router.add_post(ENDPOINT.lower(), handle_soap)
    app.router.add_post(ops_autodiscover.PATH, handle_autodiscover)
    app.router.add_post("/Autodiscover/Autodiscover.svc", handle_autodiscover)
    return app
