"""Records for tests, with only the fields a test cares about named."""

from __future__ import annotations

import datetime as dt

from recsys import Item

__all__ = ["make_item", "SAMPLE"]


def make_item(id_: str, title: str, body: str = "", **fields) -> Item:
    """An online article unless told otherwise; only the fields a test cares about need naming."""
    fields.setdefault("kind", "article")
    fields.setdefault("minutes", 10)
    fields.setdefault("published", dt.date(2026, 1, 1))
    return Item(id=id_, title=title, body=body, **fields)


SAMPLE = [
    ("safety", "安全生产月活动要点", "开展隐患排查治理，落实安全生产责任制，有限空间作业先通风、再检测、后作业。", ("安全生产",)),
    ("integrity", "廉洁从业警示教育", "某国企采购负责人收受供应商礼品礼金，违反中央八项规定精神，受到党纪处分。", ("廉洁从业",)),
    ("history", "中共一大的召开", "1921年7月，中国共产党第一次全国代表大会在上海召开，最后一天转移到嘉兴南湖红船上举行。", ("党史",)),
    ("secrecy", "保密工作常识", "涉密文件不得通过微信、QQ等互联网工具传递，涉密计算机严禁连接互联网。", ("保密",)),
    ("reform", "国企改革三年行动", "完善中国特色现代企业制度，推进混合所有制改革，健全市场化经营机制。", ("国企改革",)),
]
