"""Command line of the ews-sandbox (SPEC §3)."""


def main() -> None:
    raise SystemExit("not implemented yet")
