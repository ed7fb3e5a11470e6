"""`db.loaded` builds a stored item's model exactly as PynamoDB's `from_raw_data` does.

Every read parses its items with it (`db.get_together`, the email worker's claim; issue #17),
so what the rules decide on (a client's status and settings R36–R38, a job's status and
attempts R41–R42, a practice's branding B-rules) must be what PynamoDB would have read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.models import Model

from chalicelib import aws, db
from chalicelib.models import TABLE_OWNERS
from chalicelib.models.base import Stored
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from tests.support.api import Api, Practice
from tests.support.email import add_client, book, email_log
from tests.support.records import identity_of


def _models() -> list[type[Model]]:
    """Every model of a Portico table (models/base.Stored: the test_cold_clients check that
    none is made straight from PynamoDB's Model)."""
    found = sorted(Stored.__subclasses__(), key=lambda cls: cls.__name__)
    assert set(TABLE_OWNERS) <= set(found)
    return list(found)


# A value of each attribute class the models use, as a client of the model would set it.
SAMPLES: dict[type[Attribute[Any]], Any] = {
    UnicodeAttribute: "text with ünïcode",
    NumberAttribute: 7,
    BooleanAttribute: True,
    UTCDateTimeAttribute: datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC),
    TTLAttribute: datetime(2027, 1, 1, tzinfo=UTC),
    JSONAttribute: {"nested": {"list": [1, "two", None, True]}, "empty": {}},
    UnicodeSetAttribute: {"a", "b"},
    VersionAttribute: 3,
}


def _sample(attribute: Attribute[Any]) -> Any:
    if isinstance(attribute, ListAttribute):
        element = attribute.element_type
        return [SAMPLES[element], SAMPLES[element]] if element else ["plain", 1]
    return SAMPLES[type(attribute)]


def _raw(model_cls: type[Model], *keys: str) -> dict[str, Any]:
    names = [model_cls._hash_key_attribute().attr_name]
    if (range_attribute := model_cls._range_key_attribute()) is not None:
        names.append(range_attribute.attr_name)
    answer = aws.client("dynamodb").get_item(
        TableName=model_cls.Meta.table_name,
        Key={name: {"S": key} for name, key in zip(names, keys, strict=True)},
        ConsistentRead=True,
    )
    return answer["Item"]


def _same_as_pynamodb(model_cls: type[Model], item: dict[str, Any]) -> None:
    mine, theirs = db.loaded(model_cls, item), model_cls.from_raw_data(item)
    assert type(mine) is type(theirs)
    assert mine.attribute_values == theirs.attribute_values, model_cls.__name__


def test_every_model_loads_an_item_of_keys_alone_with_its_defaults() -> None:
    # Issue #17: attributes an item does not store take the model's defaults (a job's context
    # `{}`), as from_raw_data gives them
    found = _models()
    assert {EmailJob, Organization, ClientProfile, Identity} <= set(found)
    for model_cls in found:
        item = {model_cls._hash_key_attribute().attr_name: {"S": "key"}}
        if (range_attribute := model_cls._range_key_attribute()) is not None:
            item[range_attribute.attr_name] = {"S": "range"}
        _same_as_pynamodb(model_cls, item)


def test_the_records_an_email_is_decided_on_load_as_pynamodb_loads_them(
    api: Api, practice: Practice
) -> None:
    # R36-R38, R41-R43 (issue #17): the practice (settings, branding), the client, the login
    # and the queued job, as stored by the app, parse to the same models
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    book(api, practice, [client_id])
    [job] = email_log(api, practice)
    admin = identity_of(practice.admin_email)
    _same_as_pynamodb(Organization, _raw(Organization, practice.id, "org"))
    _same_as_pynamodb(ClientProfile, _raw(ClientProfile, practice.id, client_id))
    _same_as_pynamodb(Identity, _raw(Identity, admin.id))
    stored_job = _raw(EmailJob, job["id"])
    assert "context" in stored_job
    _same_as_pynamodb(EmailJob, stored_job)


def test_every_model_loads_every_attribute_set_as_pynamodb_loads_it() -> None:
    # Issue #17: each attribute of each model, set to a value of its type and stored as
    # PynamoDB stores it, reads back to the same value
    for model_cls in _models():
        model = model_cls()
        for name, attribute in model_cls.get_attributes().items():
            setattr(model, name, _sample(attribute))
        item = model.serialize()
        _same_as_pynamodb(model_cls, item)
        assert db.loaded(model_cls, item).attribute_values == model.attribute_values


# Issue #17: numbers and dates are parsed and written without PynamoDB's Python parsing, so each
# form PynamoDB stores, and each it refuses, must come out as PynamoDB's own would.
NUMBER_TEXTS = ("7", "0", "-3", "7.5", "-0.25", "1E+2", "123456789012345678901234567890")
DATE_TEXTS = (
    "2026-12-01T09:30:15.123456+0000",
    "0999-01-02T03:04:05.000000+0000",  # years under 1000, as PynamoDB pads them
    "999-01-02T03:04:05.000000+0000",  # and as older PynamoDB wrote them, unpadded
)
REFUSED_DATE_TEXTS = ("2026-12-01T09:30:15Z", "2026-12-01T09:30:15.123456+0100", "yesterday")


def _job_item(**stored: dict[str, str]) -> dict[str, Any]:
    return {"job_id": {"S": "em_1"}, **stored}


def test_stored_numbers_load_as_pynamodb_loads_them() -> None:
    for text in NUMBER_TEXTS:
        item = _job_item(attempts={"N": text})
        mine, theirs = db.loaded(EmailJob, item), EmailJob.from_raw_data(item)
        assert mine.attempts == theirs.attempts, text
        assert type(mine.attempts) is type(theirs.attempts), text


def test_stored_dates_load_or_are_refused_as_pynamodb_does() -> None:
    for text in DATE_TEXTS:
        item = _job_item(created_at={"S": text})
        assert db.loaded(EmailJob, item).created_at == EmailJob.from_raw_data(item).created_at
        assert db.loaded(EmailJob, item).created_at.tzinfo is UTC
    for text in REFUSED_DATE_TEXTS:
        item = _job_item(created_at={"S": text})
        with pytest.raises(ValueError, match="does not match format"):
            EmailJob.from_raw_data(item)
        with pytest.raises(ValueError, match="does not match format"):
            db.loaded(EmailJob, item)


def test_a_date_an_update_shape_writes_is_the_text_pynamodb_writes() -> None:
    # The email worker's claim and outcome fill their dates in through `db.slot`
    slot = cast(Any, db.slot("now", EmailJob.claimed_at))
    attribute = UTCDateTimeAttribute()
    moments = [
        datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 30, 15, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 1, 9, 30, 15),  # naive: taken as UTC, as PynamoDB takes it
        datetime(2026, 3, 8, 1, 59, tzinfo=ZoneInfo("America/Denver")),
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    ]
    for moment in moments:
        assert slot.serialized(moment) == {"S": attribute.serialize(moment)}, moment
