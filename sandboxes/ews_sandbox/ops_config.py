"""Get/Create/Update/DeleteUserConfiguration (the master category list lives here)."""

from __future__ import annotations

import base64
import binascii
import copy

from lxml import etree

from ews_sandbox import soap
from ews_sandbox.context import Context
from ews_sandbox.errors import EwsError, SoapFaultError, item_not_found
from ews_sandbox.store import UserConfig
from ews_sandbox.xml import elements, m, sub, t


def _name_and_folder(ctx: Context, name_el: etree._Element | None) -> tuple[str, object]:
    if name_el is None or not name_el.get("Name"):
        raise EwsError("ErrorInvalidRequest", "UserConfigurationName with a Name is required.")
    folder_ids = elements(name_el)
    if not folder_ids:
        raise EwsError("ErrorInvalidRequest", "UserConfigurationName needs a folder id.")
    folder = ctx.resolve_folder(folder_ids[0])
    ctx.touch(folder)
    return name_el.get("Name"), folder


def _b64(el: etree._Element | None) -> bytes | None:
    if el is None:
        return None
    try:
        return base64.b64decode((el.text or "").encode(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SoapFaultError(
            "ErrorSchemaValidation", f"The value of {etree.QName(el).localname} is not base64."
        ) from exc


def _store_parts(config: UserConfig, source: etree._Element) -> None:
    dictionary = source.find(t("Dictionary"))
    if dictionary is not None:
        config.dictionary = copy.deepcopy(dictionary)
    if source.find(t("XmlData")) is not None:
        config.xml_data = _b64(source.find(t("XmlData")))
    if source.find(t("BinaryData")) is not None:
        config.binary_data = _b64(source.find(t("BinaryData")))


def get_user_configuration(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("GetUserConfiguration")
    try:
        name, folder = _name_and_folder(ctx, request.find(m("UserConfigurationName")))
        config = ctx.mailbox.configs.get((folder.id, name))  # type: ignore[attr-defined]
        if config is None:
            raise item_not_found()
    except EwsError as err:
        soap.error(messages, "GetUserConfiguration", err)
        return root
    wanted = set((request.findtext(m("UserConfigurationProperties")) or "All").split())
    every = "All" in wanted
    message = soap.success(messages, "GetUserConfiguration")
    out = sub(message, m("UserConfiguration"))
    name_el = sub(out, t("UserConfigurationName"), Name=config.name)
    sub(
        name_el, t("FolderId"), Id=config.folder.id, ChangeKey=ctx.mailbox.change_key(config.folder)
    )
    if every or "Id" in wanted:
        sub(out, t("ItemId"), Id=config.id, ChangeKey=ctx.mailbox.change_key(config))
    if (every or "Dictionary" in wanted) and config.dictionary is not None:
        out.append(copy.deepcopy(config.dictionary))
    if (every or "XmlData" in wanted) and config.xml_data is not None:
        sub(out, t("XmlData"), base64.b64encode(config.xml_data).decode())
    if (every or "BinaryData" in wanted) and config.binary_data is not None:
        sub(out, t("BinaryData"), base64.b64encode(config.binary_data).decode())
    return root


def create_user_configuration(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("CreateUserConfiguration")
    source = request.find(m("UserConfiguration"))
    try:
        if source is None:
            raise EwsError("ErrorInvalidRequest", "UserConfiguration is required.")
        name, folder = _name_and_folder(ctx, source.find(t("UserConfigurationName")))
        if (folder.id, name) in ctx.mailbox.configs:  # type: ignore[attr-defined]
            raise EwsError("ErrorItemSave", f"A user configuration named {name} already exists.")
        config = ctx.mailbox.add_config(folder, name)  # type: ignore[arg-type]
        try:
            _store_parts(config, source)
        except SoapFaultError:
            del ctx.mailbox.configs[(folder.id, name)]  # type: ignore[attr-defined]
            raise
    except EwsError as err:
        soap.error(messages, "CreateUserConfiguration", err)
        return root
    soap.success(messages, "CreateUserConfiguration")
    return root


def update_user_configuration(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("UpdateUserConfiguration")
    source = request.find(m("UserConfiguration"))
    try:
        if source is None:
            raise EwsError("ErrorInvalidRequest", "UserConfiguration is required.")
        name, folder = _name_and_folder(ctx, source.find(t("UserConfigurationName")))
        config = ctx.mailbox.configs.get((folder.id, name))  # type: ignore[attr-defined]
        if config is None:
            raise item_not_found()
        _store_parts(config, source)
        config.version += 1
    except EwsError as err:
        soap.error(messages, "UpdateUserConfiguration", err)
        return root
    soap.success(messages, "UpdateUserConfiguration")
    return root


def delete_user_configuration(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("DeleteUserConfiguration")
    try:
        name, folder = _name_and_folder(ctx, request.find(m("UserConfigurationName")))
        if ctx.mailbox.configs.pop((folder.id, name), None) is None:  # type: ignore[attr-defined]
            raise item_not_found()
    except EwsError as err:
        soap.error(messages, "DeleteUserConfiguration", err)
        return root
    soap.success(messages, "DeleteUserConfiguration")
    return root
