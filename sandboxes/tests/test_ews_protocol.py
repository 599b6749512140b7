"""Auth, version guessing, OAuth, tenancy, SOAP faults, injected faults and stats."""

from __future__ import annotations

import time

import exchangelib
import pytest
import requests
from ews_sandbox.testing import BUILD, account, endpoint, validated_sandbox
from exchangelib import OAUTH2, Account, Build, Configuration, Version
from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
from exchangelib.errors import ErrorAccessDenied, ErrorImpersonateUserDenied, UnauthorizedError
from exchangelib.protocol import FaultTolerance
from lxml import etree
from oauthlib.oauth2 import OAuth2Token

pytestmark = pytest.mark.subprocess

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
TOKEN = "sandbox-token-0123456789"
MAILBOXES = ["--mailbox", "demo@example.com:demo-password", "--mailbox", "bob@example.org:bob-pw",
             "--oauth-token", f"oauth@example.net:{TOKEN}"]  # fmt: skip


def soap(operation: str, version: str = "Exchange2016") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:m="{M}" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
<s:Header><t:RequestServerVersion Version="{version}"/></s:Header>
<s:Body>{operation}</s:Body></s:Envelope>""".encode()


GET_BOBS_CONTACTS = soap(
    "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>"
    '<t:DistinguishedFolderId Id="contacts"><t:Mailbox><t:EmailAddress>bob@example.org'
    "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>"
)


@pytest.fixture(scope="module")
def sandbox():
    with validated_sandbox(["--seed", "12", *MAILBOXES]) as sb:
        yield sb
    exchangelib.close_connections()


def post(sandbox, body: bytes, auth=("demo@example.com", "demo-password")) -> requests.Response:
    return requests.post(
        endpoint(sandbox), data=body, auth=auth, timeout=10,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )  # fmt: skip


def response_codes(resp: requests.Response) -> list[str]:
    return [e.text for e in etree.fromstring(resp.content).iter(f"{{{M}}}ResponseCode")]


def test_basic_auth_required_and_checked(sandbox):
    anonymous = requests.post(endpoint(sandbox), data=GET_BOBS_CONTACTS, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith('Basic realm="')
    assert post(sandbox, GET_BOBS_CONTACTS, auth=("demo@example.com", "nope")).status_code == 401
    with pytest.raises(UnauthorizedError):
        account(sandbox, password="wrong").contacts  # noqa: B018
    exchangelib.close_connections()


def test_version_and_auth_guessing(sandbox):
    guessed = account(sandbox, guess=True)
    assert guessed.contacts.total_count > 0
    assert guessed.version.build == Build(*BUILD)
    assert guessed.version.api_version == "Exchange2016"
    assert guessed.protocol.auth_type == "basic"
    assert sandbox.stats()["reads"]["ConvertId"] >= 2
    exchangelib.close_connections()


def test_oauth_bearer_token_acts_as_its_mailbox(sandbox, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    credentials = OAuth2AuthorizationCodeCredentials(
        access_token=OAuth2Token({"access_token": TOKEN, "token_type": "Bearer"})
    )
    config = Configuration(
        service_endpoint=endpoint(sandbox), credentials=credentials, auth_type=OAUTH2,
        version=Version(build=Build(*BUILD)),
    )  # fmt: skip
    sandbox.reset()
    oauth = Account("oauth@example.net", config=config, autodiscover=False, access_type="delegate")
    assert oauth.contacts.all().count() > 0
    assert set(sandbox.stats()["by_tenant"]) == {"oauth@example.net"}
    bad = requests.post(
        endpoint(sandbox), data=GET_BOBS_CONTACTS, timeout=10,
        headers={"Authorization": "Bearer wrong"},
    )  # fmt: skip
    assert bad.status_code == 401
    exchangelib.close_connections()


def test_credentials_reach_only_their_own_mailbox(sandbox):
    assert response_codes(post(sandbox, GET_BOBS_CONTACTS)) == ["ErrorAccessDenied"]
    own = post(sandbox, GET_BOBS_CONTACTS, auth=("bob@example.org", "bob-pw"))
    assert response_codes(own) == ["NoError"]
    nobody = GET_BOBS_CONTACTS.replace(b"bob@example.org", b"nobody@example.org")
    assert response_codes(post(sandbox, nobody)) == ["ErrorNonExistentMailbox"]
    demo = account(sandbox)
    bob_ids = [c.id for c in account(sandbox, "bob@example.org", "bob-pw").contacts.all()[:2]]
    assert bob_ids
    with pytest.raises(ErrorAccessDenied):
        list(demo.fetch(ids=[(i, None) for i in bob_ids]))
    exchangelib.close_connections()


def test_impersonation_without_rights_is_denied(sandbox):
    config = account(sandbox).protocol.config
    impersonating = Account("demo@example.com", config=config, autodiscover=False)
    with pytest.raises(ErrorImpersonateUserDenied):
        impersonating.contacts  # noqa: B018
    exchangelib.close_connections()


def test_unknown_and_unsupported_operations_are_soap_faults(sandbox):
    for operation, code in (("<m:SyncFolderHierarchy/>", "ErrorInvalidOperation"),
                            ("<m:MakeCoffee/>", "ErrorSchemaValidation")):  # fmt: skip
        resp = post(sandbox, soap(operation))
        assert resp.status_code == 500
        assert resp.text.startswith("<?xml")
        assert f"a:{code}</faultcode>" in resp.text
    assert post(sandbox, b"not xml").status_code == 500


def test_values_outside_the_schema_enumerations_are_refused(sandbox):
    """RequestServerVersion, folder FieldURI and IndexedFieldURI are checked against types.xsd."""

    def fault(operation: str, version: str = "Exchange2016") -> str | None:
        resp = post(sandbox, soap(operation, version))
        return etree.fromstring(resp.content).findtext(".//faultcode")

    def get_contacts_folder(field_uri: str) -> str:
        return (
            "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
            f'<t:FieldURI FieldURI="{field_uri}"/></t:AdditionalProperties></m:FolderShape>'
            '<m:FolderIds><t:DistinguishedFolderId Id="contacts"/></m:FolderIds></m:GetFolder>'
        )

    def find_contacts(indexed_uri: str) -> str:
        return (
            '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
            f'<t:AdditionalProperties><t:IndexedFieldURI FieldURI="{indexed_uri}" FieldIndex="x"/>'
            "</t:AdditionalProperties></m:ItemShape><m:ParentFolderIds>"
            '<t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>'
        )

    folder = get_contacts_folder("folder:DisplayName")
    assert fault(folder) is None
    assert fault(folder, "Exchange2012") is None  # in ExchangeVersionType
    assert fault(folder, "Exchange2015_SP1") == "a:ErrorInvalidServerVersion"  # exchangelib's only
    assert fault(get_contacts_folder("folder:Colour")) == "a:ErrorSchemaValidation"
    assert fault(find_contacts("contacts:Bogus")) == "a:ErrorSchemaValidation"
    not_for_contacts = post(sandbox, soap(find_contacts("item:InternetMessageHeader")))
    assert response_codes(not_for_contacts) == ["ErrorInvalidPropertyRequest"]


def test_batch_and_find_limits(sandbox):
    ids = "".join(f'<t:ItemId Id="AAMkA{i}"/>' for i in range(1001))
    body = soap(
        f"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        f"<m:ItemIds>{ids}</m:ItemIds></m:GetItem>"
    )
    assert response_codes(post(sandbox, body)) == ["ErrorInvalidOperation"]
    malformed = body.replace(ids.encode(), b'<t:ItemId Id="garbage"/>')
    assert response_codes(post(sandbox, malformed)) == ["ErrorInvalidIdMalformed"]


def test_stats_split_reads_writes_and_tenants(sandbox):
    sandbox.reset()
    demo = account(sandbox)
    list(demo.contacts.all()[:1])
    exchangelib.items.Contact(folder=demo.contacts, display_name="Stat").save()
    stats = sandbox.stats()
    tenant = stats["by_tenant"]["demo@example.com"]
    assert tenant["writes"] == {"CreateItem": 1}
    assert {"GetFolder", "FindItem"} <= set(tenant["reads"])
    assert "bob@example.org" not in stats["by_tenant"]
    exchangelib.close_connections()


def test_server_busy_back_off_is_honoured():
    with validated_sandbox(["--seed", "5", "--fault-rate", "0.4", "--fault-kinds",
                            "server_busy", "--backoff-ms", "300"]) as busy:  # fmt: skip
        acct = account(busy, retry_policy=FaultTolerance(max_wait=60))
        started = time.monotonic()
        counts = {acct.contacts.all().count() for _ in range(4)}
        assert len(counts) == 1
        elapsed = time.monotonic() - started
        faults = busy.stats()["faults"].get("server_busy", 0)
        assert faults >= 1
        assert elapsed >= 0.3 * faults
        exchangelib.close_connections()


def test_dropped_503_and_applied_then_dropped_writes():
    create = soap(
        '<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Contact>'
        "<t:DisplayName>Dropped</t:DisplayName></t:Contact></m:Items></m:CreateItem>"
    )
    with validated_sandbox(
        ["--fault-rate", "0.5", "--fault-kinds", "drop_after,http_503"]
    ) as flaky:
        outcomes = []
        for _ in range(12):
            try:
                outcomes.append(post(flaky, create).status_code)
            except requests.ConnectionError:
                outcomes.append("dropped")
        faults = flaky.stats()["faults"]
        assert outcomes.count("dropped") == faults.get("drop_after", 0) > 0
        assert outcomes.count(503) == faults.get("http_503", 0) > 0
        applied = outcomes.count(200) + outcomes.count("dropped")
        count_body = soap(
            '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
            '</m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="1" Offset="0" '
            'BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/>'
            "</m:ParentFolderIds></m:FindItem>"
        )
        for _ in range(20):
            try:
                resp = post(flaky, count_body)
            except requests.ConnectionError:
                continue
            if resp.status_code == 200:
                break
        assert f'TotalItemsInView="{applied}"' in resp.text


def test_convert_id_round_trip(sandbox):
    from exchangelib.properties import AlternateId
    from exchangelib.services import ConvertId

    demo = account(sandbox)
    item_id = next(iter(demo.contacts.all())).id
    service = ConvertId(protocol=demo.protocol)
    (hex_id,) = service.call(
        items=[AlternateId(id=item_id, format="EwsId", mailbox="demo@example.com")],
        destination_format="HexEntryId",
    )
    assert hex_id.format == "HexEntryId"
    assert hex_id.id != item_id
    (back,) = service.call(
        items=[AlternateId(id=hex_id.id, format="HexEntryId", mailbox="demo@example.com")],
        destination_format="EwsId",
    )
    assert back.id == item_id
    exchangelib.close_connections()
