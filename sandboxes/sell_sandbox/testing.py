"""Helpers for tests and benchmarks that talk to a running sell-sandbox over HTTP."""

from __future__ import annotations

import hashlib

import requests


def make_token(label: str) -> str:
    """A valid 64-character token, distinct per label (tests name their tenants)."""
    return hashlib.sha256(f"sell-sandbox test token {label}".encode()).hexdigest()


def session(token: str) -> requests.Session:
    """A requests session that sends the headers the official clients send (reference §1)."""
    http = requests.Session()
    http.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": "sell-sandbox-tests/1.0",
        }
    )
    return http
