"""The search table (R55): each client filed under each start of its first name, last name and
email, in name order, so that finding a client among tens of thousands is one Query.

An entry is one client under one start (`org#status#start`), sorted by the client's name key
(last name, first name, id), and holds nothing else: a client has 10 to 30 of them, written in
the transaction of every change to what they index (services/clients/search.py). The profile
records which it has (`ClientProfile.searched_as`), so the next change knows which to remove.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored


class ClientSearchEntry(Stored):
    """Keys only: the client is the last part of its name key (rules/people.client_of)."""

    class Meta(BaseMeta):
        table_name = config.table("search")

    partition = UnicodeAttribute(hash_key=True)  # f"{org_id}#{status}#{start}"
    name_key = UnicodeAttribute(range_key=True)  # name order; ends with the client's id

    @staticmethod
    def partition_for(org_id: str, status: str, start: str) -> str:
        return f"{org_id}#{status}#{start}"
