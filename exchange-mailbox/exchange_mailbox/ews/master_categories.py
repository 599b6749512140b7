"""Read and write the master category list of a mailbox over EWS (one request each).

exchangelib has no helper for it (reference §3); its ``Folder.*_user_configuration`` methods need
a resolved Calendar folder (a GetFolder round trip first). Naming the folder by its distinguished
id in the owner's mailbox sends the same request without that round trip.
"""

from __future__ import annotations

from exchangelib import Account
from exchangelib.errors import ErrorItemNotFound
from exchangelib.properties import (
    DistinguishedFolderId,
    Mailbox,
    UserConfiguration,
    UserConfigurationName,
    UserConfigurationNameMNS,
)
from exchangelib.services import (
    CreateUserConfiguration,
    GetUserConfiguration,
    UpdateUserConfiguration,
)

from .category_list import CategoryList

CONFIGURATION_NAME = "CategoryList"


def _calendar(account: Account) -> DistinguishedFolderId:
    return DistinguishedFolderId(
        id="calendar", mailbox=Mailbox(email_address=account.primary_smtp_address)
    )


def load(account: Account) -> CategoryList | None:
    """The mailbox's list, or None when the mailbox has never stored one."""
    try:
        configuration = GetUserConfiguration(account=account).get(
            user_configuration_name=UserConfigurationNameMNS(
                name=CONFIGURATION_NAME, folder=_calendar(account)
            ),
            properties="XmlData",
        )
    except ErrorItemNotFound:
        return None
    if not configuration.xml_data:
        return None
    return CategoryList.parse(configuration.xml_data)


def save(account: Account, category_list: CategoryList, *, exists: bool) -> None:
    """Create the configuration object, or replace its XmlData when ``exists``."""
    configuration = UserConfiguration(
        user_configuration_name=UserConfigurationName(
            name=CONFIGURATION_NAME, folder=_calendar(account)
        ),
        xml_data=category_list.to_bytes(),
    )
    service = UpdateUserConfiguration if exists else CreateUserConfiguration
    service(account=account).get(user_configuration=configuration)
