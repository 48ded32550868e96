"""Records: validation in one place, errors naming the record and the field."""

from __future__ import annotations

import datetime as dt

import pytest

from recsys import Event, Item, Member, ValidationError
from recsys.records import TZ

ITEM = {
    "id": "thy-001", "title": "学习新党章", "body": "党章是党的根本大法。", "kind": "article",
    "mode": "online", "minutes": 10, "topics": ["党章党规党纪"], "roles": [], "level": 1,
    "published": "2026-01-05", "expires": None, "requires": [], "schedule": None, "org": None,
}
OFFLINE = dict(ITEM, id="off-1", kind="activity", mode="offline", minutes=180, schedule={
    "starts": "2026-12-05T09:00:00", "ends": "2026-12-05T12:00:00",
    "location": "西安·八路军西安办事处纪念馆", "capacity": 40,
})


def test_item_round_trips_through_json():
    item = Item.from_dict(ITEM)
    assert item.topics == ("党章党规党纪",)
    assert Item.from_dict(item.to_dict()) == item


def test_offline_item_times_default_to_shanghai():
    item = Item.from_dict(OFFLINE)
    assert item.schedule.starts.tzinfo == TZ
    assert item.schedule.city == "西安"
    assert Item.from_dict(item.to_dict()) == item


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "has space"}, "id"),
        ({"id": ""}, "id"),
        ({"title": "  "}, "title"),
        ({"kind": "podcast"}, "kind"),
        ({"mode": "hybrid"}, "mode"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": "10"}, "minutes"),
        ({"minutes": True}, "minutes"),
        ({"minutes": 10_001}, "minutes"),
        ({"published": "0001-01-01"}, "published"),
        ({"level": 4}, "level"),
        ({"topics": "党史"}, "topics"),
        ({"topics": ["党史", "党史"]}, "topics"),
        ({"published": "2026-13-01"}, "published"),
        ({"expires": "2025-01-01"}, "expires"),
        ({"requires": ["thy-001"]}, "requires"),
        ({"requires": ["bad id"]}, "requires"),
        ({"schedule": {"starts": "2026-12-05T09:00:00", "ends": "2026-12-05T12:00:00", "location": "北京"}}, "schedule"),
        ({"kind": "activity"}, "mode"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_item_fields_are_named(change, field):
    with pytest.raises(ValidationError) as err:
        Item.from_dict({**ITEM, **change})
    assert err.value.field == field
    assert field in str(err.value)
    if isinstance(change.get("id", "thy-001"), str) and field != "id":
        assert err.value.record == "thy-001"


@pytest.mark.parametrize("missing", ["id", "title", "kind", "minutes", "published"])
def test_missing_required_item_field(missing):
    data = {k: v for k, v in ITEM.items() if k != missing}
    with pytest.raises(ValidationError, match=f"missing required field '{missing}'"):
        Item.from_dict(data)


def test_offline_schedule_must_end_after_start():
    bad = dict(OFFLINE, schedule={**OFFLINE["schedule"], "ends": "2026-12-05T08:00:00"})
    with pytest.raises(ValidationError) as err:
        Item.from_dict(bad)
    assert err.value.field == "schedule.ends"


def test_records_are_frozen():
    item = Item.from_dict(ITEM)
    with pytest.raises(AttributeError):
        item.title = "x"


def test_member_defaults_and_situation():
    m = Member.from_dict({"id": "m1", "name": "李娜", "org": "zjjt.xmb.zb-xian"})
    assert m.roles == ("member",) and m.offline and m.situation == "regular"
    infirm = Member.from_dict({"id": "m2", "name": "王强", "org": "x", "situation": "infirm"})
    assert infirm.offline is False  # offline defaults to false for mobile and infirm members
    with pytest.raises(ValidationError) as err:
        Member.from_dict({"id": "m3", "name": "赵敏", "org": "x", "situation": "mobile", "offline": True})
    assert err.value.field == "offline"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"daily_minutes": 0}, "daily_minutes"), ({"roles": []}, "roles"), ({"offline": "yes"}, "offline"),
     ({"joined": "yesterday"}, "joined"), ({"org": ""}, "org"), ({"situation": "away"}, "situation")],
)
def test_bad_member_fields_are_named(change, field):
    with pytest.raises(ValidationError) as err:
        Member.from_dict({"id": "m1", "name": "李娜", "org": "x", **change})
    assert err.value.field == field and err.value.record == "m1"


def test_event_values_checked_by_kind():
    at = "2026-11-01T20:00:00"
    assert Event.from_dict({"member": "m1", "item": "a", "kind": "rate", "value": 5, "at": at}).value == 5.0
    for kind, value in [("rate", 6), ("quiz", 1.5), ("progress", -0.1), ("rate", None), ("quiz", float("nan"))]:
        with pytest.raises(ValidationError) as err:
            Event.from_dict({"id": "e1", "member": "m1", "item": "a", "kind": kind, "value": value, "at": at})
        assert err.value.field == "value" and err.value.record == "e1"


def test_event_time_is_aware():
    e = Event.from_dict({"member": "m1", "item": "a", "kind": "complete", "at": "2026-11-01T20:00:00"})
    assert e.at == dt.datetime(2026, 11, 1, 20, tzinfo=TZ)
    e2 = Event.from_dict({"member": "m1", "item": "a", "kind": "complete", "at": "2026-11-01T12:00:00+00:00"})
    assert e2.at == e.at  # same instant


@pytest.mark.parametrize("written, key", [
    ("太原", "太原"), ("太原市", "太原"), ("山西省太原市", "太原"), (" 北京市 ", "北京"), ("内蒙古自治区呼和浩特市", "呼和浩特"),
    ("香港特别行政区", "香港"), ("沙市", "沙市"), ("", ""), (None, ""), ("太原市小店区", "太原"),
    ("山西省太原市小店区", "太原"), ("济南市市中区", "济南"), ("市中区", "市中区"),
])
def test_a_city_is_compared_without_its_province_and_closing_shi(written, key):
    from recsys.records import city_key

    assert city_key(written) == key
