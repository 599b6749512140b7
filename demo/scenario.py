"""The demo data set: a small Sell account and a mailbox that exercise every rule of S1-S7.

Written through the public APIs only (Sell REST, EWS via exchangelib), the way a user's data would
have got there, so the sync sees nothing the real systems would not show it.
"""

from __future__ import annotations

import time
from typing import Any

from exchange_mailbox.ews import transport
from exchangelib import DELEGATE, Account, Configuration, Credentials, Version
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.items import Contact
from exchangelib.version import Build
from sell_sandbox.client import SellSandboxClient

DEMO_MAILBOX = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the sandbox's documented demo credentials
# The demo's app registration over Microsoft Graph (`make demo PROTOCOL=graph`): tenant, client
# id and secret, as exchange-sandbox's `--app TENANT:CLIENT:SECRET` registers them.
DEMO_APP = ("demo-tenant", "d3e0a001-0000-4000-8000-00000000de70", "demo-app-secret")
SELECTED_CATEGORIES = ("Clients", "Partners")


def exchange_account(endpoint: str, ca_bundle: str | None = None) -> Account:
    """The user's Outlook on the mailbox, over EWS; ``ca_bundle`` trusts a sandbox's own CA."""
    if ca_bundle:
        # exchangelib has no per-account CA; the Exchange plugins' adapter looks it up by URL.
        transport.register(endpoint, ca_bundle)
    config = Configuration(
        service_endpoint=endpoint,
        credentials=Credentials(DEMO_MAILBOX, DEMO_PASSWORD),
        auth_type="basic",
        version=Version(build=Build(15, 1, 2507, 6)),
    )
    return Account(DEMO_MAILBOX, config=config, autodiscover=False, access_type=DELEGATE)


def seed_sell(api: SellSandboxClient) -> dict[str, dict[str, Any]]:
    """Companies, people in every prospect/customer status, a lead, non-ASCII names."""
    stages = api.stage_ids()
    engines = api.create("contacts", is_organization=True, name="Analytical Engines")
    bletchley = api.create("contacts", is_organization=True, name="Bletchley Park")
    people = {
        # Matches Exchange by e-mail (written differently there); gets an open deal.
        "ada": api.create(
            "contacts",
            first_name="Ada",
            last_name="Lovelace",
            email="ada@analytical.example",
            contact_id=engines["id"],
            mobile="+44 20 7946 0001",
        ),
        # Matches the first of two Exchange duplicates; gets a won deal.
        "alan": api.create(
            "contacts",
            first_name="Alan",
            last_name="Turing",
            email="alan@bletchley.example",
            contact_id=bletchley["id"],
        ),
        # Same e-mail as in Exchange but another title: a first-link conflict (S5.3/S5.2).
        "grace": api.create(
            "contacts",
            first_name="Grace",
            last_name="Hopper",
            email="grace@navy.example",
            title="Commodore",
        ),
        # No e-mail: matched by name + phone, written in another format in Exchange.
        "katherine": api.create(
            "contacts", first_name="Katherine", last_name="Johnson", phone="(757) 555-0101"
        ),
        # Only in Sell: created in Exchange, past customer.
        "tim": api.create(
            "contacts",
            first_name="Tim",
            last_name="Berners-Lee",
            email="timbl@w3.example",
            customer_status="past",
        ),
        "jose": api.create(
            "contacts", first_name="José", last_name="Núñez Ñandú", email="jose@ejemplo.example"
        ),
    }
    api.create("deals", name="Difference engine", contact_id=people["ada"]["id"])
    api.create("deals", name="Bombe", contact_id=people["alan"]["id"], stage_id=stages["won"])
    api.create("deals", name="COBOL", contact_id=people["grace"]["id"], stage_id=stages["lost"])
    lead = api.create(
        "leads",
        first_name="Linus",
        last_name="Torvalds",
        organization_name="Transmeta",
        email="linus@transmeta.example",
    )
    return {**people, "engines": engines, "bletchley": bletchley, "linus": lead}


def _contact(account: Account, folder: Any, **fields: Any) -> Contact:
    contact = Contact(account=account, folder=folder, **fields)
    contact.save()
    return contact


def seed_exchange(account: Account) -> dict[str, Contact]:
    """Contacts in Contacts and a user subfolder, in and out of the selected categories."""
    contacts = account.contacts
    partners = contacts / "Partners"
    return {
        "ada": _contact(
            account,
            contacts,
            given_name="Ada",
            surname="Lovelace",
            display_name="Ada Lovelace",
            company_name="Analytical Engines",
            job_title="Mathematician",
            email_addresses=[EmailAddress(label="EmailAddress1", email=" ADA@Analytical.example ")],
            categories=["Clients"],
        ),
        "alan": _contact(
            account,
            contacts,
            given_name="Alan",
            surname="Turing",
            display_name="Alan Turing",
            email_addresses=[EmailAddress(label="EmailAddress1", email="alan@bletchley.example")],
            categories=["Clients"],
        ),
        "alan_duplicate": _contact(
            account,
            partners,
            given_name="Alan",
            surname="Turing",
            display_name="Alan Turing",
            email_addresses=[EmailAddress(label="EmailAddress1", email="alan@bletchley.example")],
            categories=["Partners"],
        ),
        "grace": _contact(
            account,
            partners,
            given_name="Grace",
            surname="Hopper",
            display_name="Grace Hopper",
            job_title="Rear Admiral",
            email_addresses=[EmailAddress(label="EmailAddress1", email="grace@navy.example")],
            categories=["Partners", "VIP"],
        ),
        "katherine": _contact(
            account,
            contacts,
            given_name="Katherine",
            surname="Johnson",
            display_name="Katherine Johnson",
            phone_numbers=[PhoneNumber(label="BusinessPhone", phone_number="+1 757-555-0101")],
            categories=["Clients"],
        ),
        "margaret": _contact(
            account,
            contacts,
            given_name="Margaret",
            surname="Hamilton",
            display_name="Margaret Hamilton",
            company_name="MIT Instrumentation Lab",
            job_title="Director of Software Engineering",
            email_addresses=[EmailAddress(label="EmailAddress1", email="margaret@mit.example")],
            physical_addresses=[
                PhysicalAddress(
                    label="Business",
                    street="75 Cambridge Pkwy",
                    city="Cambridge",
                    state="MA",
                    country="USA",
                    zipcode="02142",
                )
            ],
            categories=["Clients"],
        ),
        # Outlook's own Recipient Cache (addresses it once completed), not a folder of the
        # user's: out of scope although in a selected category (S1.1).
        "cached": _contact(
            account,
            next(f for f in contacts.children if f.name == "Recipient Cache"),
            given_name="Rex",
            surname="Cached",
            display_name="Rex Cached",
            email_addresses=[EmailAddress(label="EmailAddress1", email="rex@cache.example")],
            categories=["Clients"],
        ),
        # Not in a selected category: stays out of Sell (S1.2).
        "private": _contact(
            account,
            contacts,
            given_name="Pat",
            surname="Private",
            display_name="Pat Private",
            email_addresses=[EmailAddress(label="EmailAddress1", email="pat@home.example")],
            categories=["VIP"],
        ),
    }


def user_edits(
    api: SellSandboxClient, account: Account, sell: dict, exchange: dict[str, Contact]
) -> list[str]:
    """Edits a user makes between two syncs: merges, a conflict, a deal that is won, a lead
    edited in Exchange and converted in Sell."""
    stages = api.stage_ids()
    ada = exchange["ada"]
    ada.refresh()
    ada.job_title = "Countess, Mathematician"
    ada.save(update_fields=["job_title"])
    api.update("contacts", sell["ada"]["id"], mobile="+44 20 7946 0002")
    grace = exchange["grace"]
    grace.refresh()
    grace.job_title = "Rear Admiral (ret.)"
    grace.save(update_fields=["job_title"])
    time.sleep(1.1)  # the Sell edit is the later one, to the second Sell records
    api.update("contacts", sell["grace"]["id"], title="Commodore (ret.)")  # later: Sell wins
    deal = next(d for d in api.all("deals") if d["contact_id"] == sell["ada"]["id"])
    api.update("deals", deal["id"], stage_id=stages["won"])
    # The lead synced in run 1 is edited in Outlook, then converted in Sell with a deal (S6).
    [linus] = [c for c in account.contacts.all() if c.display_name == "Linus Torvalds"]
    linus.job_title = "Fellow"
    linus.save(update_fields=["job_title"])
    api.convert_lead(sell["linus"]["id"], create_deal=True)
    return [
        "Exchange: Ada Lovelace's job title -> 'Countess, Mathematician'",
        "Sell:     Ada Lovelace's mobile -> +44 20 7946 0002 (another field: both edits kept)",
        "Exchange: Grace Hopper's title -> 'Rear Admiral (ret.)'",
        "Sell:     Grace Hopper's title -> 'Commodore (ret.)' (same field, later: a conflict)",
        "Sell:     Ada Lovelace's deal is won (Sell Current Prospect -> Sell Current Customer)",
        "Exchange: Linus Torvalds' (a lead) job title -> 'Fellow'",
        "Sell:     lead Linus Torvalds converted, with a deal (his Exchange contact follows the"
        " new Sell contact: Sell Lead -> Sell Person, Sell Current Prospect)",
    ]
