"""The Sell API as a salesperson's actions, a seeding script or a test reach it.

One small client for everything outside the plugins that talks to a running sell-sandbox (or to
Sell itself): the tests, the demo and the benchmarks. Records go in and come out as plain dicts;
the ``{"data": ...}`` envelopes and paging stay in here. The plugins have their own clients, with
their own pacing and write-safety rules; this one only makes seeding and checking dependable.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sell_sandbox import tenant_key

PER_PAGE = 100  # the API's maximum
MAX_PAGES = 1000  # 100,000 records: far beyond any test or demo, bounds the paging loop


class _SellRetry(Retry):
    """A 429 was not processed, so any verb may be repeated; after a 5xx or a dropped connection
    a write may have been applied, so only reads are (``allowed_methods``)."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return status_code == 429 or super().is_retry(method, status_code, has_retry_after)


# Sell's budget is a one-second window: short waits, capped at 2 s, outlast a burst; a faulty
# sandbox (--fault-rate) answers the same read within a few tries.
RETRY = _SellRetry(
    total=20,
    backoff_factor=0.1,
    backoff_max=2,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"GET", "HEAD"}),
    raise_on_status=False,  # the last answer reaches _checked, body and all
)


class SellSandboxClient:
    """One tenant (token) of a Sell API at ``base_url`` (endpoints under ``/v2``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        user_agent: str = "sell-sandbox-client/1.0",
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._tenant = tenant_key(token)  # never keep or log the token itself
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=RETRY)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            }
        )

    def create(self, resource: str, /, **fields: Any) -> dict[str, Any]:
        return self._call("POST", resource, fields)

    def update(self, resource: str, record_id: int, /, **fields: Any) -> dict[str, Any]:
        """A partial update: only ``fields`` change."""
        return self._call("PUT", f"{resource}/{record_id}", fields)

    def delete(self, resource: str, record_id: int, /) -> None:
        self._call("DELETE", f"{resource}/{record_id}")

    def get(self, resource: str, record_id: int, /) -> dict[str, Any]:
        return self._call("GET", f"{resource}/{record_id}")

    def all(self, resource: str, /, **filters: Any) -> list[dict[str, Any]]:
        """Every record of a list, page after page until a short one; ``filters`` are the API's
        query parameters (``is_organization="true"``, ``sort_by="id"``, ...)."""
        records: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            params = {**filters, "page": page, "per_page": PER_PAGE}
            items = self._send("GET", resource, params=params).json()["items"]
            records += [item["data"] for item in items]
            if len(items) < PER_PAGE:
                return records
        msg = f"GET /v2/{resource} did not end within {MAX_PAGES} pages"
        raise RuntimeError(msg)

    def all_ids(self, resource: str, /) -> list[int]:
        """The ids the listing holds, in id order (to compare with what a tap emitted)."""
        return [record["id"] for record in self.all(resource, sort_by="id:asc")]

    def people(self) -> list[dict[str, Any]]:
        """Contacts that are persons, not organisations."""
        return self.all("contacts", is_organization="false")

    def convert_lead(
        self, lead_id: int, *, create_deal: bool, owner_id: int | None = None
    ) -> dict[str, Any]:
        """``POST /v2/lead_conversions``: the conversion record (``individual_id``,
        ``organization_id``, ``deal_id``). ``create_deal`` is always sent: Sell's default for it is
        not documented."""
        fields: dict[str, Any] = {"lead_id": lead_id, "create_deal": create_deal}
        if owner_id is not None:
            fields["owner_id"] = owner_id
        return self._call("POST", "lead_conversions", fields)

    def lead_conversions(self, /, **filters: Any) -> list[dict[str, Any]]:
        """Every lead conversion, newest first; ``filters`` are ``lead_id``, ``individual_id``,
        ``organization_id``, ``deal_id``. Follows the ``cursor`` of each ``next_page`` link: this
        list allows ``page`` only up to 50."""
        records: list[dict[str, Any]] = []
        params: dict[str, Any] = {**filters, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            body = self._send("GET", "lead_conversions", params=params).json()
            records += [item["data"] for item in body["items"]]
            next_page = body["meta"]["links"].get("next_page")
            if not next_page or not body["items"]:
                return records
            cursor = parse_qs(urlsplit(next_page).query)["cursor"][0]
            params = {**filters, "cursor": cursor, "per_page": PER_PAGE}
        msg = f"GET /v2/lead_conversions did not end within {MAX_PAGES} pages"
        raise RuntimeError(msg)

    def stage_ids(self) -> dict[str, int]:
        """Stage id by category (``incoming``, ``won``, ``lost``, ...), to move deals."""
        return {stage["category"]: stage["id"] for stage in self.all("stages")}

    def writes(self) -> dict[str, int]:
        """This tenant's writes by operation (``PUT /v2/contacts/{id}``) since the sandbox's last
        stats reset (sell-sandbox only: ``/_sandbox/stats``)."""
        response = self.session.get(f"{self.base_url}/_sandbox/stats", timeout=self.timeout)
        stats = _checked(response).json()
        return stats["by_tenant"].get(self._tenant, {}).get("writes", {})

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        body = None if data is None else {"data": data}
        response = self._send(method, path, json=body)
        return response.json()["data"] if response.content else None

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}/v2/{path}"
        return _checked(self.session.request(method, url, timeout=self.timeout, **kwargs))


def _checked(response: requests.Response) -> requests.Response:
    """The response if it succeeded; otherwise an HTTPError that carries Sell's error envelope,
    which says which field was wrong and why."""
    try:
        response.raise_for_status()
    except requests.HTTPError as exc:
        msg = f"{exc}: {response.text[:2000]}"
        raise requests.HTTPError(msg, response=response) from None
    return response
