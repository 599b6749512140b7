"""``make demo``: the whole product on the local sandboxes, end to end, without any account."""
