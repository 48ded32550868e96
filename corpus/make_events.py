"""Regenerate ``data/events.jsonl``: a small, plausible history for the sample members.

Run ``python -m corpus.make_events``. Seeded, so the file is reproducible. Each member studies
a few online items a week from 2026-09-01 to 2026-11-20, mostly in their stated interests and
role's topics, with ratings, quiz scores, skips and impressions; members who can attend enrol
in some upcoming offline activities in their city. Mobile and infirm members study online only.
"""

from __future__ import annotations

import datetime as dt
import json
import random

from corpus import DATA, load_items, load_members
from recsys.records import TZ

START, END = dt.date(2026, 9, 1), dt.date(2026, 11, 20)


def build() -> list[dict]:
    rng = random.Random(20261124)
    items = load_items()
    online = [i for i in items if i.mode == "online" and i.published <= END and (i.expires is None or i.expires >= START)]
    events: list[dict] = []
    for m in load_members():
        allowed = [
            i for i in online
            if (not i.roles or set(i.roles) & set(m.roles))
            and (i.org is None or m.org == i.org or m.org.startswith(i.org + "."))
            and not i.requires
        ]
        liked = [i for i in allowed if set(i.topics) & set(m.interests)]
        done: set[str] = set()
        seq = 0
        day = START
        while day <= END:
            if rng.random() < 0.35:  # studies on about a third of days
                pool = liked if liked and rng.random() < 0.7 else allowed
                pool = [i for i in pool if i.id not in done and i.minutes <= m.daily_minutes + 15]
                if pool:
                    item = rng.choice(pool)
                    at = dt.datetime.combine(day, dt.time(rng.choice([7, 12, 20, 21]), rng.randrange(60)), TZ)

                    def add(kind: str, value: float | None = None, minutes: int = 0) -> None:
                        nonlocal seq
                        seq += 1
                        events.append({
                            "id": f"{m.id}-{seq:04d}", "member": m.id, "item": item.id, "kind": kind,
                            "value": value, "at": (at + dt.timedelta(minutes=minutes)).isoformat(),
                        })

                    add("impression")
                    roll = rng.random()
                    if roll < 0.12:
                        add("skip", minutes=1)
                    else:
                        add("start", minutes=1)
                        if roll < 0.2:
                            add("progress", round(rng.uniform(0.2, 0.7), 2), minutes=item.minutes // 2)
                        else:
                            add("complete", minutes=item.minutes)
                            done.add(item.id)
                            if item.kind == "quiz":
                                add("quiz", round(rng.choice([0.6, 0.8, 1.0, 0.4]), 2), minutes=item.minutes)
                            if rng.random() < 0.3:
                                add("rate", float(rng.choice([3, 4, 5, 5, 2])), minutes=item.minutes + 1)
            day += dt.timedelta(days=1)
        if m.offline:
            upcoming = [
                i for i in items
                if i.mode == "offline" and i.schedule.city == m.location
                and (not i.roles or set(i.roles) & set(m.roles))
                and (i.org is None or m.org == i.org or m.org.startswith(i.org + "."))
                and dt.date(2026, 11, 26) <= i.schedule.starts.date() <= dt.date(2027, 1, 31)
            ]
            for item in rng.sample(upcoming, min(2, len(upcoming))):
                seq += 1
                events.append({
                    "id": f"{m.id}-{seq:04d}", "member": m.id, "item": item.id, "kind": "enroll",
                    "value": None, "at": dt.datetime.combine(END, dt.time(9), TZ).isoformat(),
                })
    events.sort(key=lambda e: (e["at"], e["id"]))
    return events


def main() -> None:
    events = build()
    with open(DATA / "events.jsonl", "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    print(f"{len(events)} events written to {DATA / 'events.jsonl'}")


if __name__ == "__main__":
    main()
