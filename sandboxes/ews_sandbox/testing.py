"""Test helpers: start the sandbox, connect exchangelib, and prove every answer fits the XSD.

``validated_sandbox`` starts ``ews-sandbox --record-responses DIR`` and, when the block ends,
validates every SOAP answer the sandbox wrote against Microsoft's messages.xsd (body) and
types.xsd (``ServerVersionInfo`` header); SOAP Faults, which the XSD does not cover, are checked
for the shape exchangelib parses. No answer escapes validation.

The schema is read from ``$EWS_SCHEMA_DIR``, else ``<repository root>/../shared/ews-schema``.
When it is absent, a test that needs it still runs its own assertions and then skips, naming the
path it tried and the variable to set.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from lxml import etree
from sandbox_common.process import SandboxProcess, running_sandbox
from sandbox_common.shared import require_shared_file, shared_folder

from ews_sandbox.xml import E_NS, SOAP_NS, T_NS

SCHEMA_VARIABLE = "EWS_SCHEMA_DIR"
SCHEMA_DIR = shared_folder("ews-schema", SCHEMA_VARIABLE)
BUILD = (15, 1, 2507, 6)


@functools.cache
def ews_schema():
    """messages.xsd (imports types.xsd); ~1 s, so loaded once per process. Skips when absent."""
    import xmlschema  # noqa: PLC0415

    return xmlschema.XMLSchema(str(schema_file("messages.xsd")))


def schema_file(name: str) -> Path:
    """A file of the EWS schema folder, or a skip of the calling test that says what is missing."""
    return require_shared_file(SCHEMA_DIR / name, SCHEMA_VARIABLE)


def response_problems(payload: bytes) -> list[str]:
    """Reasons one recorded answer is not what Exchange would send (empty when it is)."""
    if not (payload.startswith((b"<?xml", b"<s:Envelope"))):
        return ["the body does not start with '<?xml' or '<s:Envelope'"]
    envelope = etree.fromstring(payload)
    body = envelope.find(f"{{{SOAP_NS}}}Body")
    if body is None or len(body) != 1:
        return ["no single s:Body child"]
    first = body[0]
    if first.tag == f"{{{SOAP_NS}}}Fault":
        return _fault_problems(first)
    problems = []
    header = envelope.find(f"{{{SOAP_NS}}}Header")
    version = None if header is None else header.find(f"{{{T_NS}}}ServerVersionInfo")
    if version is None:
        problems.append("no s:Header/ServerVersionInfo")
    else:
        problems += [f"header: {e.reason}" for e in ews_schema().iter_errors(version)]
    problems += [f"{e.path}: {e.reason}" for e in ews_schema().iter_errors(first)]
    return problems


def _fault_problems(fault: etree._Element) -> list[str]:
    problems = []
    code = fault.findtext("faultcode") or ""
    if not code.startswith("a:Error"):
        problems.append(f"faultcode {code!r} is not an EWS code")
    detail_code = fault.findtext(f"detail/{{{E_NS}}}ResponseCode")
    if detail_code != code.removeprefix("a:"):
        problems.append("detail/e:ResponseCode does not repeat the faultcode")
    if detail_code == "ErrorServerBusy":
        backoff = fault.find(f"detail/{{{T_NS}}}MessageXml/{{{T_NS}}}Value")
        if backoff is None or backoff.get("Name") != "BackOffMilliseconds":
            problems.append("ErrorServerBusy without BackOffMilliseconds")
    return problems


def validate_recorded(directory: Path) -> int:
    """Validate every recorded answer; raise AssertionError naming the bad ones."""
    files = sorted(directory.glob("*.xml"))
    failures = []
    for path in files:
        problems = response_problems(path.read_bytes())
        if problems:
            failures.append(f"{path.name}: {problems[:3]}")
    if failures:
        raise AssertionError("responses that fail the EWS schema:\n" + "\n".join(failures))
    return len(files)


@contextmanager
def validated_sandbox(args: Sequence[str] = ()) -> Iterator[SandboxProcess]:
    with tempfile.TemporaryDirectory(prefix="ews-responses-") as tmp:
        with running_sandbox("ews-sandbox", ["--record-responses", tmp, *args]) as sandbox:
            yield sandbox
        validate_recorded(Path(tmp))


def endpoint(sandbox: SandboxProcess) -> str:
    return f"{sandbox.base_url}/EWS/Exchange.asmx"


def exchange_settings(sandbox: SandboxProcess, mailbox: str, password: str) -> dict[str, str]:
    """The connection settings both Exchange plugins take for one mailbox of this sandbox."""
    return {
        "service_endpoint": endpoint(sandbox),
        "primary_smtp_address": mailbox,
        "username": mailbox,
        "password": password,
        "auth_type": "basic",
        "server_version": ".".join(map(str, BUILD)),
    }


def account(
    sandbox: SandboxProcess,
    address: str = "demo@example.com",
    password: str = "demo-password",  # noqa: S107 - the documented demo mailbox
    *,
    guess: bool = False,
    retry_policy: object | None = None,
):
    """An exchangelib Account on the sandbox, as the tap and target configure it."""
    from exchangelib import (  # noqa: PLC0415
        BASIC,
        DELEGATE,
        Account,
        Build,
        Configuration,
        Credentials,
        Version,
    )

    kwargs = {} if retry_policy is None else {"retry_policy": retry_policy}
    config = Configuration(
        service_endpoint=endpoint(sandbox),
        credentials=Credentials(address, password),
        auth_type=None if guess else BASIC,
        version=None if guess else Version(build=Build(*BUILD)),
        **kwargs,
    )
    return Account(address, config=config, autodiscover=False, access_type=DELEGATE)
