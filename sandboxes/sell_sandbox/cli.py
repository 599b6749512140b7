"""Command line of the sell-sandbox (SPEC §3)."""


def main() -> None:
    raise SystemExit("not implemented yet")
