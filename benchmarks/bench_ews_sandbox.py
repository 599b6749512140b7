"""Throughput of the EWS sandbox: contacts served per second through GetItem.

Starts ``ews-sandbox --seed 5000`` like a user would and reads every contact of the Contacts folder
with exchangelib 5.6.0 and the field list a contact sync needs (FindItem pages of 100, GetItem
chunks of 100). Prints one Markdown table row.

    .venv/bin/python benchmarks/bench_ews_sandbox.py [--seed 5000]
"""

from __future__ import annotations

import argparse
import time

import exchangelib
from exchangelib import BASIC, DELEGATE, Account, Build, Configuration, Credentials, Version
from exchangelib.items import Contact
from sandbox_common.process import running_sandbox

FIELDS = (
    "given_name", "surname", "display_name", "file_as", "company_name", "job_title",
    "email_addresses", "phone_numbers", "physical_addresses", "business_homepage", "body",
    "categories", "last_modified_time", "datetime_created",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5000)
    args = parser.parse_args()
    with running_sandbox("ews-sandbox", ["--seed", str(args.seed)]) as sandbox:
        config = Configuration(
            service_endpoint=f"{sandbox.base_url}/EWS/Exchange.asmx",
            credentials=Credentials("demo@example.com", "demo-password"),
            auth_type=BASIC,
            version=Version(build=Build(15, 1, 2507, 6)),
        )
        account = Account(
            "demo@example.com", config=config, autodiscover=False, access_type=DELEGATE
        )
        folder = account.contacts
        sandbox.reset()
        started = time.perf_counter()
        query = folder.all().only(*FIELDS)
        query.page_size = 100
        contacts = sum(1 for item in query if isinstance(item, Contact))
        elapsed = time.perf_counter() - started
        stats = sandbox.stats()
        exchangelib.close_connections()
    get_items = stats["reads"].get("GetItem", 0)
    find_items = stats["reads"].get("FindItem", 0)
    print(
        f"| ews-sandbox GetItem (seed {args.seed}) | {contacts} contacts | "
        f"{contacts / elapsed:,.0f} contacts/s | {elapsed:.2f} s | "
        f"{find_items} FindItem + {get_items} GetItem |"
    )


if __name__ == "__main__":
    main()
