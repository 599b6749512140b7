"""Deterministic, realistic data for ``--seed N`` (same seed + token ⇒ same data).

About 80 % people and 20 % companies, people linked to companies, non-ASCII names, contacts
without e-mail, a few duplicated people, N/4 leads and N/2 deals spread over every stage so
that prospect and customer statuses vary. Stamps are historical and fixed, never "now".
"""

from __future__ import annotations

import random

from sell_sandbox.account import LEAD_STATUSES, Account
from sell_sandbox.clock import iso, parse_iso
from sell_sandbox.resources import CONTACT, DEAL, LEAD

SEED_EPOCH = parse_iso("2024-01-02T08:00:00Z")
SEED_END = parse_iso("2026-01-01T00:00:00Z")  # seeded history ends before this (in the past)
MIN_GAP_S, MAX_GAP_S = 30, 3600

# (as written, ASCII form for e-mail addresses)
FIRST_NAMES = (
    ("José", "jose"), ("Zoë", "zoe"), ("Łukasz", "lukasz"), ("Jürgen", "juergen"),
    ("Renée", "renee"), ("Øyvind", "oyvind"), ("Íñigo", "inigo"), ("François", "francois"),
    ("Małgorzata", "malgorzata"), ("Björn", "bjoern"), ("Chloé", "chloe"), ("Mark", "mark"),
    ("Sarah", "sarah"), ("Anna", "anna"), ("David", "david"), ("Emma", "emma"),
    ("伟", "wei"), ("芳", "fang"), ("太郎", "taro"), ("さくら", "sakura"), ("Mehmet", "mehmet"),
    ("Aisha", "aisha"), ("Sven", "sven"), ("Olga", "olga"), ("Noël", "noel"), ("Ángela", "angela"),
)  # fmt: skip
LAST_NAMES = (
    ("García", "garcia"), ("Müller", "mueller"), ("Kowalski", "kowalski"), ("Núñez", "nunez"),
    ("Dubois", "dubois"), ("Schröder", "schroeder"), ("Smith", "smith"), ("Johnson", "johnson"),
    ("Łukaszewicz", "lukaszewicz"), ("Peña", "pena"), ("O'Brien", "obrien"),
    ("Hernández", "hernandez"), ("王", "wang"), ("李", "li"), ("山田", "yamada"),
    ("Öztürk", "ozturk"), ("Jensen", "jensen"), ("Novák", "novak"), ("Rossi", "rossi"),
    ("Brown", "brown"), ("Żak", "zak"), ("Fernández", "fernandez"),
)  # fmt: skip
COMPANY_STEMS = (
    ("Müller", "mueller"), ("Łódź", "lodz"), ("Señor", "senor"), ("Acme", "acme"),
    ("Globex", "globex"), ("Øresund", "oresund"), ("Zürich", "zuerich"), ("さくら", "sakura"),
    ("Nordwind", "nordwind"), ("Dupont", "dupont"), ("Initech", "initech"), ("北京", "beijing"),
    ("Peña", "pena"), ("Björk", "bjoerk"), ("Café Olé", "cafeole"),
)  # fmt: skip
COMPANY_TRADES = ("Logistics", "Consulting", "Software", "Trading", "Foods", "Energy")
COMPANY_FORMS = ("GmbH", "Sp. z o.o.", "S.L.", "Corp", "Inc.", "AS", "AG", "Ltd", "& Co.", "SARL")
TITLES = ("CEO", "CTO", "Head of Sales", "Einkäufer", "Directora comercial", "Buyer", "営業部長")
INDUSTRIES = ("Manufacturing", "Retail", "Software", "Logistics", "Food & Beverage", "Energy")
CITIES = (
    ("Berlin", "10115", "DE"), ("Kraków", "30-001", "PL"), ("Sevilla", "41001", "ES"),
    ("Zürich", "8001", "CH"), ("東京", "100-0001", "JP"), ("New York", "10001", "US"),
    ("Malmö", "211 20", "SE"), ("Montréal", "H2X 1Y4", "CA"),
)  # fmt: skip
STREETS = ("Hauptstraße", "ul. Długa", "Calle Mayor", "Bahnhofstrasse", "Main Street", "Storgatan")
PHONE_FORMATS = ("+49 30 {a}{b}", "(555) {a}-{b}", "+48 12 {a} {b}", "0{a}/{b}", "+1-555-{a}-{b}")
#: Stage categories for deals, weighted so every prospect/customer status appears.
STAGE_WEIGHTS = (
    ("incoming", 3), ("in_progress", 4), ("won", 2), ("lost", 2), ("unqualified", 1),
)  # fmt: skip
TAGS = (["vip"], ["newsletter"], ["trade-fair 2024"], [], [], [])


class _Stamps:
    """Strictly increasing historical stamps from a fixed epoch, all before ``SEED_END``.

    Real Sell never stamps the future. Gaps of 30 s to 1 h keep small accounts as they always
    were; a large one gets shorter gaps so its history still ends in the past (a fixed date,
    so the data stays the same run after run). Otherwise writes made after seeding would all
    share the last seeded stamp, years ahead of the wall clock (the account clock never goes back).
    """

    def __init__(self, rng: random.Random, count: int) -> None:
        self._rng = rng
        self._now = SEED_EPOCH
        fitting = 2 * (SEED_END - SEED_EPOCH) // max(count, 1) - MIN_GAP_S
        self._max_gap = max(1, min(MAX_GAP_S, fitting))
        self._min_gap = min(MIN_GAP_S, self._max_gap)

    def next(self) -> str:
        self._now += self._rng.randint(self._min_gap, self._max_gap)
        return iso(self._now)


def _phone(rng: random.Random) -> str:
    fmt = rng.choice(PHONE_FORMATS)
    return fmt.format(a=rng.randint(100, 999), b=rng.randint(1000, 9999))


def _address(rng: random.Random) -> dict:
    city, postal, country = rng.choice(CITIES)
    return {
        "line1": f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
        "city": city,
        "postal_code": postal,
        "state": None,
        "country": country,
    }


def seed_account(account: Account, size: int, seed: int) -> None:
    """Fill ``account`` with ``size`` contacts, ``size // 4`` leads and ``size // 2`` deals."""
    rng = random.Random(f"sell-sandbox:{seed}:{account.key}")  # noqa: S311 - test data
    stamps = _Stamps(rng, count=size + size // 4 + size // 2)  # contacts, leads, deals
    n_companies = round(size * 0.2)
    companies = _seed_companies(account, rng, stamps, n_companies)
    people = _seed_people(account, rng, stamps, size - n_companies, companies)
    _seed_leads(account, rng, stamps, size // 4)
    with account.deferred_statuses():
        _seed_deals(account, rng, stamps, size // 2, companies + people)


def _seed_companies(
    account: Account, rng: random.Random, stamps: _Stamps, count: int
) -> list[dict]:
    created = []
    for i in range(count):
        stem, stem_ascii = COMPANY_STEMS[i % len(COMPANY_STEMS)]
        trade = COMPANY_TRADES[(i // len(COMPANY_STEMS)) % len(COMPANY_TRADES)]
        form = rng.choice(COMPANY_FORMS)
        round_no = i // (len(COMPANY_STEMS) * len(COMPANY_TRADES))
        name = f"{stem} {trade} {form}" + (f" {round_no + 1}" if round_no else "")
        domain = f"{stem_ascii}-{trade.lower()}{round_no or ''}.example.com"
        values = {
            "is_organization": True,
            "name": name,
            "email": f"info@{domain}" if rng.random() < 0.8 else None,
            "phone": _phone(rng),
            "website": f"https://www.{domain}",
            "industry": rng.choice(INDUSTRIES),
            "address": _address(rng),
            "tags": list(rng.choice(TAGS)),
        }
        created.append(account.create(CONTACT, values, stamp=stamps.next()))
    return created


def _seed_people(
    account: Account, rng: random.Random, stamps: _Stamps, count: int, companies: list[dict]
) -> list[dict]:
    created: list[dict] = []
    while len(created) < count:
        if created and rng.random() < 0.03:
            # A duplicate: the same person entered twice (Sell's API skips duplicate checks).
            original = rng.choice(created)
            keys = ("first_name", "last_name", "email", "phone", "contact_id", "title")
            values = {k: original[k] for k in keys}
        else:
            first, first_ascii = rng.choice(FIRST_NAMES)
            last, last_ascii = rng.choice(LAST_NAMES)
            company = rng.choice(companies) if companies and rng.random() < 0.7 else None
            domain = (company["website"] or "").removeprefix("https://www.") if company else ""
            domain = domain or rng.choice(("mail.example.org", "post.example.net"))
            values = {
                "first_name": first,
                "last_name": last,
                "email": (
                    f"{first_ascii}.{last_ascii}{rng.randint(1, 999)}@{domain}"
                    if rng.random() < 0.85
                    else None
                ),
                "phone": _phone(rng) if rng.random() < 0.7 else None,
                "mobile": _phone(rng) if rng.random() < 0.5 else None,
                "title": rng.choice(TITLES),
                "contact_id": company["id"] if company else None,
                "address": _address(rng),
                "description": "Met at the trade fair. Prefers e-mail."
                if rng.random() < 0.1
                else None,
                "tags": list(rng.choice(TAGS)),
            }
        values["is_organization"] = False
        created.append(account.create(CONTACT, values, stamp=stamps.next()))
    return created


def _seed_leads(account: Account, rng: random.Random, stamps: _Stamps, count: int) -> None:
    for _ in range(count):
        first, first_ascii = rng.choice(FIRST_NAMES)
        last, last_ascii = rng.choice(LAST_NAMES)
        stem, _stem_ascii = rng.choice(COMPANY_STEMS)
        values = {
            "first_name": first,
            "last_name": last,
            "organization_name": f"{stem} {rng.choice(COMPANY_TRADES)}",
            "email": (
                f"{first_ascii}.{last_ascii}@leads.example.com" if rng.random() < 0.8 else None
            ),
            "phone": _phone(rng) if rng.random() < 0.6 else None,
            "title": rng.choice(TITLES),
            "status": rng.choice(LEAD_STATUSES),
            "address": _address(rng),
        }
        account.create(LEAD, values, stamp=stamps.next())


def _seed_deals(
    account: Account, rng: random.Random, stamps: _Stamps, count: int, contacts: list[dict]
) -> None:
    if not contacts:
        return
    categories = [c for c, _ in STAGE_WEIGHTS]
    weights = [w for _, w in STAGE_WEIGHTS]
    by_category: dict[str, list[int]] = {}
    for stage in sorted(account.stages.values(), key=lambda s: s["position"]):
        by_category.setdefault(stage["category"], []).append(stage["id"])
    for i in range(count):
        contact = rng.choice(contacts)
        category = rng.choices(categories, weights)[0]
        values = {
            "name": f"{contact['name']} – order {i + 1}",  # noqa: RUF001 - real-world dash
            "contact_id": contact["id"],
            "stage_id": rng.choice(by_category[category]),
            "value": f"{rng.randint(5, 5000) * 10}.00",
            "currency": rng.choice(("USD", "EUR", "PLN")),
            "hot": rng.random() < 0.2,
        }
        account.create(DEAL, values, stamp=stamps.next())
