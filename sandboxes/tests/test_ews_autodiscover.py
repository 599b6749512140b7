"""SOAP Autodiscover GetUserSettings, driven by exchangelib's own AutodiscoverProtocol."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from exchangelib import Configuration, Credentials
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.errors import UnauthorizedError
from exchangelib.protocol import FailFast
from sandbox_common.process import SandboxProcess, running_sandbox

pytestmark = pytest.mark.subprocess

ADDRESS = "ada@contoso.test"
PASSWORD = "pw-ada"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    args = ["--mailbox", f"{ADDRESS}:{PASSWORD}", "--mailbox", "bo@contoso.test:pw-bo"]
    with running_sandbox("ews-sandbox", args) as sb:
        yield sb


def protocol(sandbox: SandboxProcess, password: str = PASSWORD) -> AutodiscoverProtocol:
    return AutodiscoverProtocol(
        config=Configuration(
            service_endpoint=f"{sandbox.base_url}/autodiscover/autodiscover.svc",
            credentials=Credentials(ADDRESS, password),
            retry_policy=FailFast(),
        )
    )


def test_a_user_of_the_server_gets_its_ews_url_and_version(sandbox: SandboxProcess) -> None:
    answer = protocol(sandbox).get_user_settings(user="BO@contoso.test")
    assert answer.error_code is None
    assert answer.autodiscover_smtp_address == "bo@contoso.test"
    host = sandbox.base_url.split("://", 1)[1]
    assert answer.ews_url == f"https://{host}/EWS/Exchange.asmx"
    assert answer.version.api_version == "Exchange2016"
    # Only settings the server has come back; the others are left out, not reported as errors.
    assert not answer.user_settings_errors
    assert set(answer.user_settings) <= {
        "user_display_name", "auto_discover_smtp_address", "internal_ews_url",
        "external_ews_url", "cas_version", "ews_supported_schemas",
    }  # fmt: skip
    answer.raise_errors()


def test_an_unknown_user_is_invalid_user(sandbox: SandboxProcess) -> None:
    answer = protocol(sandbox).get_user_settings(user="nobody@contoso.test")
    assert answer.error_code == "InvalidUser"
    assert "Invalid user 'nobody@contoso.test'" in answer.error_message


def test_the_auth_scheme_is_learnt_from_a_401_and_bad_credentials_are_refused(
    sandbox: SandboxProcess,
) -> None:
    assert protocol(sandbox).auth_type == "basic"  # exchangelib's unauthenticated probe
    with pytest.raises(UnauthorizedError):
        protocol(sandbox, password="wrong").get_user_settings(user=ADDRESS)


def test_a_request_that_is_not_get_user_settings_is_invalid_request(
    sandbox: SandboxProcess,
) -> None:
    done = requests.post(
        f"{sandbox.base_url}/autodiscover/autodiscover.svc",
        data=b"<x/>",
        auth=(ADDRESS, PASSWORD),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=10,
    )
    assert done.status_code == 200
    assert b"<ErrorCode>InvalidRequest</ErrorCode>" in done.content
