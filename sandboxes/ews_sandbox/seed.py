"""Deterministic mailbox contents for ``--seed N`` (different per mailbox, same on every run)."""

from __future__ import annotations

import random
from typing import Any

from ews_sandbox.categories import category_list_xml
from ews_sandbox.store import Folder, Mailbox, build_folder_tree

USER_CATEGORIES: tuple[tuple[str, int], ...] = (("Clients", 7), ("Partners", 4), ("VIP", 15))
GIVEN = (
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Radia", "Dennis",
    "José", "Zoë", "Łukasz", "Søren", "François", "Björk", "Ñuño", "Anaïs", "Jürgen", "Chloé",
    "美咲", "Дмитрий", "Αλέξανδρος", "Siobhán", "Mårten",
)  # fmt: skip
SURNAMES = (
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Berners-Lee", "Liskov", "Thompson",
    "Perlman", "Ritchie", "Müller", "Núñez", "Øster", "Dvořák", "Ğür", "O'Brien", "Çelik",
    "山田", "Иванов", "Παπαδόπουλος", "Kowalczyk", "Lindqvist", "García", "Smith", "Nakamura",
)  # fmt: skip
COMPANIES = (
    "Analytical Engines Ltd", "Bletchley Partners", "Cobol & Co", "Kernel Works", "Apollo Systems",
    "Société Générale de Logiciel", "Müller GmbH", "Núñez y Asociados", "東京システム株式会社",
    "Nordic Data AB",
)  # fmt: skip
TITLES = ("Engineer", "CTO", "Account Manager", "Buyer", "Consultant", "Directrice", "Analyst")
CITIES = (
    ("London", "England", "United Kingdom", "N1 9GU"), ("München", "Bayern", "Germany", "80331"),
    ("São Paulo", "SP", "Brazil", "01310-100"), ("Zürich", "ZH", "Switzerland", "8001"),
    ("Kraków", "Małopolskie", "Poland", "31-001"), ("Austin", "TX", "United States", "78701"),
)  # fmt: skip


def _ascii(text: str) -> str:
    return "".join(c for c in text.lower() if c.isascii() and (c.isalnum() or c == "-")) or "x"


def _contact(rng: random.Random, index: int, domain: str) -> dict[str, Any]:
    given, surname = rng.choice(GIVEN), rng.choice(SURNAMES)
    company = rng.choice(COMPANIES)
    props: dict[str, Any] = {
        "GivenName": given,
        "Surname": surname,
        "DisplayName": f"{given} {surname}",
        "FileAs": f"{surname}, {given}",
        "CompanyName": company,
        "JobTitle": rng.choice(TITLES),
        "Sensitivity": "Normal",
        "Importance": "Normal",
        "PostalAddressIndex": "None",
    }
    if index % 17 != 5:  # a few contacts carry no e-mail at all
        emails = {"EmailAddress1": f"{_ascii(given)}.{_ascii(surname)}{index}@{domain}"}
        if rng.random() < 0.2:
            emails["EmailAddress2"] = f"{_ascii(given)}{index}@home.example"
        props["EmailAddresses"] = emails
    phones = {"BusinessPhone": f"+1 555 {rng.randrange(1000, 9999)} {index % 1000:03d}"}
    if rng.random() < 0.6:
        phones["MobilePhone"] = f"+44 7700 {rng.randrange(100000, 999999)}"
    if rng.random() < 0.2:
        phones["BusinessFax"] = f"+1 555 0{rng.randrange(100, 999)}"
    props["PhoneNumbers"] = phones
    city, state, country, postcode = rng.choice(CITIES)
    street = rng.choice(("Main St", "Hauptstraße", "Rua Augusta", "Rynek Główny"))
    props["PhysicalAddresses"] = {
        "Business": {
            "Street": f"{rng.randrange(1, 400)} {street}",
            "City": city,
            "State": state,
            "CountryOrRegion": country,
            "PostalCode": postcode,
        }
    }
    if rng.random() < 0.5:
        props["BusinessHomePage"] = f"https://{_ascii(company.split()[0])}.example"
    if rng.random() < 0.3:
        props["Body"] = ("Text", f"Met at conference #{index}. Prefers e-mail — ¡gracias!")
    if rng.random() < 0.5:
        props["Categories"] = sorted(rng.sample([c for c, _ in USER_CATEGORIES], rng.randint(1, 2)))
    return props


def seed_mailbox(mailbox: Mailbox, count: int, seed: int) -> None:
    """N contacts over Contacts and user folders, DLs, system/public-folder contacts, categories."""
    rng = random.Random(f"{seed}:{mailbox.address.lower()}")  # noqa: S311 - test data, not secrets
    domain = mailbox.address.split("@", 1)[1]
    contacts = mailbox.distinguished["contacts"]
    clients = mailbox.add_folder(contacts, "Clients", "IPF.Contact", element="ContactsFolder")
    partners = mailbox.add_folder(contacts, "Partners", "IPF.Contact", element="ContactsFolder")
    key_accounts = mailbox.add_folder(
        clients, "Key Accounts", "IPF.Contact", element="ContactsFolder"
    )
    homes: list[tuple[Folder, float]] = [
        (contacts, 0.6), (clients, 0.8), (partners, 0.92), (key_accounts, 1.0),
    ]  # fmt: skip
    minute = 0
    made: list[dict[str, Any]] = []
    for index in range(count):
        draw = rng.random()
        folder = next(f for f, limit in homes if draw < limit)
        if index % 23 == 22 and made:  # a few duplicates of an earlier contact
            props = dict(rng.choice(made))
        else:
            props = _contact(rng, index, domain)
        made.append(props)
        minute += 1
        mailbox.add_item(folder, "Contact", props, {}, created=mailbox.seed_clock(minute))
    for number in range(3):
        members = [
            {"Name": p["DisplayName"], "EmailAddress": p["EmailAddresses"]["EmailAddress1"],
             "RoutingType": "SMTP", "MailboxType": "OneOff"}
            for p in made[number * 3 : number * 3 + 3] if "EmailAddresses" in p
        ]  # fmt: skip
        minute += 1
        mailbox.add_item(
            contacts,
            "DistributionList",
            {"DisplayName": f"Team list {number + 1}", "FileAs": f"Team list {number + 1}",
             "Members": members},
            {},
            created=mailbox.seed_clock(minute),
        )  # fmt: skip
    # Contacts Exchange and Outlook keep outside the user's own folders: must never be synced.
    system_counts = {
        "Recipient Cache": 5, "GAL Contacts": 3, "Organizational Contacts": 2,
        "Quick Contacts": 2, "IM Contact List": 2, "Companies": 2,
        "{06967759-274D-40B2-A3EB-D7F9E73727D7}": 2,
    }  # fmt: skip
    by_name = {f.display_name: f for f in contacts.children}
    for name, number in system_counts.items():
        for _ in range(number):
            minute += 1
            props = _contact(rng, 10_000 + minute, domain)
            props.pop("Categories", None)
            mailbox.add_item(
                by_name[name], "Contact", props, {}, created=mailbox.seed_clock(minute)
            )
    public = mailbox.distinguished["publicfoldersroot"]
    for folder in public.descendants():
        for index in range(3):
            minute += 1
            props = _contact(rng, 20_000 + minute + index, "public.example")
            props["Categories"] = ["Clients"]
            mailbox.add_item(folder, "Contact", props, {}, created=mailbox.seed_clock(minute))


def populate(mailbox: Mailbox, seed: int | None) -> None:
    """Folder tree, master category list and (with a seed) the data set."""
    build_folder_tree(mailbox)
    calendar = mailbox.distinguished["calendar"]
    config = mailbox.add_config(calendar, "CategoryList")
    if seed is None:
        config.xml_data = category_list_xml(mailbox.address)
        return
    config.xml_data = category_list_xml(mailbox.address, USER_CATEGORIES)
    seed_mailbox(mailbox, seed, seed)
