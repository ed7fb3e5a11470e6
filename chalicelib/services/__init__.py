"""The rules that read and write, one function each, every entry point calling it.

Packages by domain, each depending only on those listed before it (tests/test_layers.py):
the primitives here (records, outbox, audit, tokens, throttle, chat), identity, access,
practices, invites and appointments, clients, families, email, portal, then the triggers.
"""
