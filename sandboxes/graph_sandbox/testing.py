"""Test helpers: start exchange-sandbox, connect msal and msgraph-sdk, and check every Graph answer.

``validated_exchange_sandbox`` starts ``exchange-sandbox --record-responses DIR``; when the block
ends, every Graph JSON answer about a contact, contact folder or category is checked against the
CSDL excerpt in ``../shared/graph-schema/`` (property names and types from the CSDL itself, nothing
else allowed, even on ``contact``, an open type), error answers against the OData error envelope,
and every SOAP answer against the EWS XSD, as ``ews_sandbox.testing`` does.
"""

from __future__ import annotations

import functools
import re
import ssl
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from sandbox_common.process import SandboxProcess, running_sandbox
from sandbox_common.shared import shared_folder

SCHEMA_VARIABLE = "GRAPH_SCHEMA_DIR"
SCHEMA_DIR = shared_folder("graph-schema", SCHEMA_VARIABLE)
CSDL_FILE = "contacts-v1.0.xml"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
TENANT, CLIENT_ID, SECRET = "contoso-tenant", "11111111-2222-3333-4444-555555555555", "s3cr3t~value"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EWS_SCOPE = "https://outlook.office365.com/.default"


def schema_missing_reason() -> str | None:
    """Why the CSDL cannot be read (tests skip with this), or None when it can."""
    if not (SCHEMA_DIR / CSDL_FILE).is_file():
        return (
            f"Graph schema checks not run: {SCHEMA_DIR / CSDL_FILE} does not exist; put the "
            f"shared files beside the checkout (../shared) or set {SCHEMA_VARIABLE}"
        )
    return None


# -- the CSDL ------------------------------------------------------------------------------------
@dataclass
class Prop:
    type: str  # "Edm.String", "graph.physicalAddress", ...
    nullable: bool
    collection: bool
    navigation: bool = False


@dataclass
class StructuredType:
    name: str
    base: str | None
    props: dict[str, Prop] = field(default_factory=dict)


@dataclass
class Csdl:
    types: dict[str, StructuredType]
    enums: dict[str, set[str]]

    def properties(self, name: str) -> dict[str, Prop]:
        """Own and inherited properties (BaseType chain) of an entity or complex type."""
        kind = self.types[name]
        inherited = self.properties(_local(kind.base)) if kind.base else {}
        return {**inherited, **kind.props}


def _local(type_name: str) -> str:
    return type_name.rsplit(".", maxsplit=1)[-1]


@functools.cache
def csdl() -> Csdl:
    root = etree.parse(str(SCHEMA_DIR / CSDL_FILE)).getroot()
    types: dict[str, StructuredType] = {}
    enums: dict[str, set[str]] = {}
    for schema in root.iter(f"{EDM}Schema"):
        for enum in schema.findall(f"{EDM}EnumType"):
            enums[enum.get("Name")] = {m.get("Name") for m in enum.findall(f"{EDM}Member")}
        for tag in ("EntityType", "ComplexType"):
            for el in schema.findall(f"{EDM}{tag}"):
                kind = StructuredType(el.get("Name"), el.get("BaseType"))
                for prop_el in el:
                    if prop_el.tag not in (f"{EDM}Property", f"{EDM}NavigationProperty"):
                        continue
                    raw = prop_el.get("Type")
                    match = re.fullmatch(r"Collection\((.+)\)", raw)
                    kind.props[prop_el.get("Name")] = Prop(
                        type=match.group(1) if match else raw,
                        nullable=prop_el.get("Nullable", "true") != "false",
                        collection=bool(match),
                        navigation=prop_el.tag == f"{EDM}NavigationProperty",
                    )
                types[kind.name] = kind
    return Csdl(types, enums)


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _value_problems(path: str, prop: Prop, value: Any, schema: Csdl) -> list[str]:
    if value is None:
        return [] if prop.nullable and not prop.collection else [f"{path}: null is not allowed"]
    if prop.collection:
        if not isinstance(value, list):
            return [f"{path}: expected a JSON array for Collection({prop.type})"]
        item = Prop(prop.type, prop.nullable, False, prop.navigation)
        out: list[str] = []
        for index, entry in enumerate(value):
            out += _value_problems(f"{path}[{index}]", item, entry, schema)
        return out
    type_name = _local(prop.type)
    if prop.type == "Edm.String":
        return [] if isinstance(value, str) else [f"{path}: expected Edm.String, got {value!r}"]
    if prop.type == "Edm.DateTimeOffset":
        ok = isinstance(value, str) and _DATETIME.match(value)
        return [] if ok else [f"{path}: expected Edm.DateTimeOffset, got {value!r}"]
    if prop.type == "Edm.Boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected Edm.Boolean"]
    if prop.type in ("Edm.Int32", "Edm.Int64"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected {prop.type}"]
    if type_name in schema.enums:
        ok = value in schema.enums[type_name]
        return [] if ok else [f"{path}: {value!r} is not a member of {type_name}"]
    if type_name in schema.types:
        return object_problems(path, type_name, value, schema)
    return [f"{path}: type {prop.type} is outside the CSDL excerpt"]


def object_problems(path: str, type_name: str, value: Any, schema: Csdl | None = None) -> list[str]:
    """Problems of one JSON object of ``type_name``: unknown properties, wrong types, nulls."""
    schema = schema or csdl()
    if not isinstance(value, dict):
        return [f"{path}: expected a JSON object of {type_name}"]
    props = schema.properties(type_name)
    out: list[str] = []
    for key, entry in value.items():
        if key.startswith("@odata.") or "@odata." in key:
            if not isinstance(entry, str):
                out.append(f"{path}.{key}: annotations are strings")
            continue
        if key not in props:
            out.append(f"{path}: '{key}' is not a property of {type_name}")
            continue
        out += _value_problems(f"{path}.{key}", props[key], entry, schema)
    kind = schema.types[type_name]
    if _is_entity(kind, schema) and "id" in props and value.get("id") in (None, ""):
        out.append(f"{path}: an entity without id")
    return out


def _is_entity(kind: StructuredType, schema: Csdl) -> bool:
    while kind.base:
        kind = schema.types[_local(kind.base)]
    return kind.name == "entity"


def error_problems(body: Any) -> list[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or set(body) != {"error"}:
        return ["an error answer must be exactly {'error': {...}}"]
    out = [f"error.{k} must be a non-empty string" for k in ("code", "message")
           if not isinstance(error.get(k), str) or not error.get(k)]  # fmt: skip
    inner = error.get("innerError")
    if not isinstance(inner, dict) or not {"date", "request-id", "client-request-id"} <= set(inner):
        out.append("error.innerError needs date, request-id and client-request-id")
    return out


def answer_problems(record: dict[str, Any]) -> list[str]:
    """Problems of one recorded Graph answer (see graph_sandbox.app.Runtime.record)."""
    body, shape, entity_type = record["body"], record["shape"], record["entity_type"]
    if record["status"] >= 400:
        return error_problems(body)
    if entity_type is None or body is None:
        return []
    if shape == "entity":
        return object_problems(entity_type, entity_type, body)
    out: list[str] = []
    extra = set(body) - {"@odata.context", "@odata.nextLink", "@odata.deltaLink", "value"}
    if extra:
        out.append(f"collection: unexpected members {sorted(extra)}")
    for index, value in enumerate(body.get("value", [])):
        where = f"value[{index}]"
        if isinstance(value, dict) and "@removed" in value:
            if set(value) - {"@odata.type", "id", "@removed"} or value["@removed"].get(
                "reason"
            ) not in ("changed", "deleted"):
                out.append(f"{where}: a removed entry holds only id and @removed")
            continue
        out += object_problems(where, entity_type, value)
    return out


def validate_recorded(directory: Path) -> int:
    """Check every recorded Graph answer; raise AssertionError naming the bad ones."""
    import json  # noqa: PLC0415

    files = sorted(directory.glob("*-graph.json"))
    failures = []
    for path in files:
        record = json.loads(path.read_text())
        problems = answer_problems(record)
        if problems:
            failures.append(f"{path.name} ({record['operation']}): {problems[:3]}")
    if failures:
        raise AssertionError("Graph answers that fail the CSDL:\n" + "\n".join(failures))
    return len(files)


@contextmanager
def validated_exchange_sandbox(args: Sequence[str] = ()) -> Iterator[SandboxProcess]:
    """exchange-sandbox whose Graph (CSDL) and EWS (XSD) answers are all checked at the end."""
    from ews_sandbox.testing import validate_recorded as validate_soap  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="exchange-responses-") as tmp:
        with running_sandbox("exchange-sandbox", ["--record-responses", tmp, *args]) as sandbox:
            yield sandbox
        validate_recorded(Path(tmp))
        validate_soap(Path(tmp))


# -- plugin settings -----------------------------------------------------------------------------
# The EWS settings a Graph tenant leaves blank when it overrides the `demo` environment's EWS ones.
EWS_ONLY_SETTINGS = ("service_endpoint", "username", "password", "server_version")


def graph_settings(
    sandbox: SandboxProcess,
    mailbox: str | None = None,
    *,
    tenant: str = TENANT,
    client_id: str = CLIENT_ID,
    secret: str = SECRET,
) -> dict[str, str]:
    """The settings both Exchange plugins take for Microsoft Graph on this sandbox (app-only,
    msal, over its TLS), the Graph twin of ``ews_sandbox.testing.exchange_settings``."""
    settings = {
        "protocol": "graph",
        "auth_type": "oauth2",
        "client_id": client_id,
        "client_secret": secret,
        "tenant_id": tenant,
        "graph_url": sandbox.base_url,
        "authority_url": sandbox.base_url,
        "ca_bundle": str(sandbox.cafile),
    }
    return settings | ({"primary_smtp_address": mailbox} if mailbox else {})


def plugin_env(prefix: str, settings: dict[str, str], blank: Sequence[str] = ()) -> dict[str, str]:
    """``settings`` as one plugin's Meltano environment variables (``PREFIX_SETTING``), with
    ``blank`` set empty so that a Meltano environment's value of them is not inherited."""
    env = {f"{prefix}_{name.upper()}": "" for name in blank}
    return env | {f"{prefix}_{name.upper()}": value for name, value in settings.items()}


# -- clients -------------------------------------------------------------------------------------
def http_session(sandbox: SandboxProcess):
    """requests with the sandbox's CA only (env CA bundles ignored, reference §0.8)."""
    import requests  # noqa: PLC0415

    session = requests.Session()
    session.trust_env = False
    session.verify = sandbox.cafile or True
    return session


def msal_app(
    sandbox: SandboxProcess, client_id: str = CLIENT_ID, secret: str = SECRET, tenant: str = TENANT
):
    """An unmodified msal ConfidentialClientApplication against the sandbox's authority."""
    import msal  # noqa: PLC0415

    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=f"{sandbox.base_url}/{tenant}",
        instance_discovery=False,
        http_client=http_session(sandbox),
    )


def app_token(sandbox: SandboxProcess, scope: str = GRAPH_SCOPE, **kwargs: str) -> str:
    result = msal_app(sandbox, **kwargs).acquire_token_for_client(scopes=[scope])
    if "access_token" not in result:
        msg = f"no token: {result.get('error')}: {result.get('error_description')}"
        raise AssertionError(msg)
    return result["access_token"]


def graph_id(sandbox: SandboxProcess, mailbox: str, delegated_token: str, ews_id: str) -> str:
    """The id the plugins know an item by over Graph (``graph:`` + its immutable REST id), for
    tests that made the item over EWS. Translated with ``translateExchangeIds`` and a delegated
    token (``--oauth-token``), which app-only callers such as the product never have (S13.2)."""
    answer = http_session(sandbox).post(
        f"{sandbox.base_url}/v1.0/users/{mailbox}/translateExchangeIds",
        json={
            "inputIds": [ews_id],
            "sourceIdType": "ewsId",
            "targetIdType": "restImmutableEntryId",
        },
        headers={"Authorization": f"Bearer {delegated_token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return "graph:" + answer.json()["value"][0]["targetId"]


class MsalCredential:
    """An azure-core TokenCredential over msal's client-credentials flow (what kiota asks for)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def get_token(self, *scopes: str, **_kwargs: Any):
        from azure.core.credentials import AccessToken  # noqa: PLC0415
        from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415

        result = self.app.acquire_token_for_client(scopes=list(scopes))
        if "access_token" not in result:
            raise ClientAuthenticationError(message=result.get("error_description", "no token"))
        return AccessToken(result["access_token"], int(time.time()) + int(result["expires_in"]))


def graph_client(sandbox: SandboxProcess, credential: Any | None = None):
    """Microsoft's msgraph-sdk GraphServiceClient, unmodified, pointed at the sandbox."""
    import httpx  # noqa: PLC0415
    from kiota_authentication_azure.azure_identity_authentication_provider import (  # noqa: PLC0415
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient  # noqa: PLC0415
    from msgraph_core import GraphClientFactory  # noqa: PLC0415

    credential = credential or MsalCredential(msal_app(sandbox))
    verify = ssl.create_default_context(cafile=sandbox.cafile) if sandbox.cafile else True
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=verify, trust_env=False)
    )
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE])
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{sandbox.base_url}/v1.0"
    return GraphServiceClient(request_adapter=adapter)
