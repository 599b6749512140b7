"""What a naive script does to read a mailbox's contacts: every private contact folder, ``.all()``.

    .venv/bin/python benchmarks/peers/naive_exchangelib.py ENDPOINT ADDRESS PASSWORD

Plain exchangelib 5.6 as its documentation shows it: one ``Account``, the contact folders found by
walking the Contacts folder (folder class exactly ``IPF.Contact``, as the tap scopes them), and
``folder.all()`` with every field. Prints one line of JSON: folders and items read.
"""

from __future__ import annotations

import json
import sys

from exchangelib import DELEGATE, Account, Build, Configuration, Credentials, Version


def main() -> None:
    endpoint, address, password = sys.argv[1:4]
    config = Configuration(
        service_endpoint=endpoint,
        credentials=Credentials(address, password),
        version=Version(Build(15, 1, 2507, 6)),  # the same skipped probe the tap is given
    )
    account = Account(address, config=config, autodiscover=False, access_type=DELEGATE)
    folders = [account.contacts] + [
        f for f in account.contacts.walk() if getattr(f, "folder_class", None) == "IPF.Contact"
    ]
    items = 0
    for folder in folders:
        for _item in folder.all():
            items += 1
    print(json.dumps({"folders": len(folders), "items": items}))


if __name__ == "__main__":
    main()
