"""Small, offline checks of settings validation, retry timing and TLS choices."""

from __future__ import annotations

import time
from typing import cast

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError
from tap_sell.client import SellStream, retry_after_seconds, sell_error_summary
from tap_sell.tap import TapSell, config_problems

TOKEN = "k" * 64
BASE = {"api_token": TOKEN, "api_url": "http://127.0.0.1:9"}


def response(status: int, body: bytes = b"", headers: dict | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.headers.update(headers or {})
    resp.url = "http://127.0.0.1:9/v2/contacts?page=1"
    return resp


@pytest.mark.spec("S10.3", "S11")
def test_config_problems_name_the_setting_and_hide_the_value() -> None:
    assert config_problems(BASE) == []
    problems = config_problems({**BASE, "api_token": "secret-but-short"})
    assert len(problems) == 1
    assert "api_token" in problems[0]
    assert "secret-but-short" not in problems[0]
    assert any("api_url" in p for p in config_problems({**BASE, "api_url": "ftp://x"}))
    assert any("start_date" in p for p in config_problems({**BASE, "start_date": "soon"}))
    assert any("ca_bundle" in p for p in config_problems({**BASE, "ca_bundle": "/nope.pem"}))


@pytest.mark.spec("S10.2")
def test_retry_after_is_honoured_and_capped() -> None:
    assert retry_after_seconds(response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(response(429, headers={"Retry-After": "100000"})) == 120.0
    assert retry_after_seconds(response(429)) is None
    stream = cast(SellStream, TapSell(config=BASE).streams["contacts"])
    waits = stream.backoff_wait_generator()
    next(waits)
    hinted = RetriableAPIError("429", response(429, headers={"Retry-After": "7"}))
    plain = RetriableAPIError("503", response(503))
    assert waits.send(hinted) == 7.0
    assert waits.send(plain) == 1.0  # second attempt of 0.5 s * 2**n
    assert waits.send(plain) == 2.0


def test_error_summary_reads_sells_envelope() -> None:
    body = (
        b'{"errors":[{"error":{"code":"invalid_param","field":"/per_page",'
        b'"details":"must be between 1 and 100"}}],"meta":{"logref":"abc"}}'
    )
    summary = sell_error_summary(response(400, body))
    assert summary == "invalid_param /per_page: must be between 1 and 100 (logref abc)"
    assert sell_error_summary(response(502, b"<html>bad gateway</html>")).startswith("<html>")


@pytest.mark.spec("S11")
@pytest.mark.parametrize(
    ("extra", "expected"),
    [({}, True), ({"verify_ssl": False}, False), ({"ca_bundle": __file__}, __file__)],
)
def test_tls_is_verified_unless_told_otherwise(extra: dict, expected: object) -> None:
    stream = cast(SellStream, TapSell(config={**BASE, **extra}).streams["users"])
    assert stream.requests_session.verify == expected


@pytest.mark.spec("S9")
def test_pacing_follows_requests_per_second() -> None:
    assert TapSell(config={**BASE, "requests_per_second": 0}).limiter is None
    limiter = TapSell(config={**BASE, "requests_per_second": 20}).limiter
    assert limiter is not None
    started = time.monotonic()
    for _ in range(6):
        limiter.try_acquire("sell", blocking=True)
    assert time.monotonic() - started >= 0.24  # five 50 ms gaps: no burst
