"""Helpers the tests share: the API client, practices, moto's reset, emails, families, pages.

Test modules import from here and never from each other or from a conftest, so a helper has
one home and moving a test file breaks nothing else.
"""
