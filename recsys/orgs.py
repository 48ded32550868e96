"""Display names of organisations: reports say 运行党支部, not ``hxny.fdgs.zb-yunxing``.

Organisations are dotted codes (enterprise → party committee → branch → group), which are what
records carry and what tenancy checks read. People know them by name; :class:`OrgName` records
the name of one code, read from an export (columns 组织编码, 组织名称) or sent over HTTP, and
:func:`display_org` is what a report shows for a code: its name, else the code itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from recsys.exceptions import ValidationError
from recsys.records import _check_id, _check_text
from recsys.vocabulary import header_key

__all__ = ["OrgName", "OrgDirectory", "display_org", "within", "MAX_ORG_NAME"]

#: Longest display name: the full name of a party organisation fits well within it
#: (中国共产党某某集团有限公司某某分公司某某车间第一支部委员会 is 30 characters).
MAX_ORG_NAME = 100


@dataclass(frozen=True)
class OrgName:
    """The display name of one organisation.

    Attributes:
        org: The organisation's dotted code, as members' and items' ``org`` carry it.
        name: What reports call it (1-100 characters, not only spaces).

    Example:
        >>> OrgName("hxny.fdgs.zb-yunxing", "运行党支部").name
        '运行党支部'
    """

    org: str
    name: str

    FIELDS: ClassVar[tuple[str, ...]] = ("org", "name")
    REQUIRED: ClassVar[tuple[str, ...]] = ("org", "name")
    #: Column headers of exports that mean these fields here (名称 is an item's title elsewhere,
    #: and 组织名称 would be a member's branch name in a member export, so they are only read here).
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "组织编码": "org", "组织代码": "org", "党组织编码": "org", "党组织代码": "org", "编码": "org", "代码": "org",
        "组织名称": "name", "党组织名称": "name", "名称": "name", "组织全称": "name", "显示名称": "name",
    }
    #: Only these headers (and ``org``, ``name``) are read, not the shared vocabulary's: in a roster
    #: 所在支部 and 姓名 are a member's branch and name, and a roster read as names renamed every
    #: branch after one of its members.
    COLUMNS_ONLY: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_id("organisation name", self.org, "org")
        name = _check_text("organisation name", self.org, "name", self.name, required=True)
        if len(name) > MAX_ORG_NAME:
            raise ValidationError(f"organisation name name must be at most {MAX_ORG_NAME} characters, got {len(name)}",
                                  record=self.org, field="name")
        object.__setattr__(self, "name", name.strip())

    @property
    def id(self) -> str:
        """The code: one name per organisation in a batch."""
        return self.org

    @classmethod
    def from_dict(cls, data: Any) -> OrgName:
        """Build from the JSON form ``{"org": ..., "name": ...}``, validating both fields."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"organisation name must be a JSON object, got {type(data).__name__}")
        org = data.get("org") if isinstance(data.get("org"), str) else None
        unknown = sorted(set(data) - set(cls.FIELDS))
        if unknown:
            raise ValidationError(f"organisation name has unknown field(s) {unknown}", record=org, field=unknown[0])
        for name in cls.REQUIRED:
            if data.get(name) is None:
                raise ValidationError(f"organisation name is missing required field {name!r}", record=org, field=name)
        return cls(org=data["org"], name=data["name"])

    def to_dict(self) -> dict[str, Any]:
        return {"org": self.org, "name": self.name}


def display_org(org: str, names: Mapping[str, str]) -> str:
    """What to show for ``org``: its display name, else the code itself."""
    return names.get(org, org)


def within(code: str, org: str) -> bool:
    """Whether the organisation ``code`` is ``org`` or a unit under it."""
    return code == org or code.startswith(org + ".")


#: What separates the names of a unit and the units above it: 发电公司党委/运行党支部.
_NAME_PATH = re.compile(r"[/／>＞\\]")


class OrgDirectory:
    """Organisations by display name: a roster's 所在支部 as an HR system writes it (运行党支部, or
    发电公司党委/运行党支部 where two units share a name) read as the organisation's code.

    Args:
        names: Display names by code (:meth:`recsys.storage.Store.org_names`).
    """

    def __init__(self, names: Mapping[str, str]) -> None:
        self._names = {code: header_key(name) for code, name in names.items()}
        self._codes: dict[str, list[str]] = {}
        for code, key in self._names.items():
            self._codes.setdefault(key, []).append(code)

    def __len__(self) -> int:
        return len(self._names)

    def code(self, text: str) -> str | None:
        """The code of the organisation ``text`` names (the names of units above it may lead,
        nearest last), or None if it names no registered organisation.

        Raises:
            ValueError: if the name is shared and the names above it do not tell which.
        """
        written = [p.strip() for p in _NAME_PATH.split(text) if p.strip()]
        parts = [header_key(p) for p in written]
        if not parts:
            return None
        found = sorted(c for c in self._codes.get(parts[-1], ()) if self._above(c, parts[:-1]))
        if len(found) > 1:
            raise ValueError(f"组织名称 {text!r} 对应多个组织（{'、'.join(found)}）：请在前面写上上级组织名称"
                             f"（如 上级党委/{written[-1]}），或直接填写组织编码")
        return found[0] if found else None

    def _above(self, code: str, names: list[str]) -> bool:
        """Whether ``names`` (outermost first) name units above ``code``, in order."""
        levels = code.split(".")
        ancestors = [self._names.get(".".join(levels[:n])) for n in range(len(levels) - 1, 0, -1)]  # nearest first
        at = 0
        for name in reversed(names):
            while at < len(ancestors) and ancestors[at] != name:
                at += 1
            if at == len(ancestors):
                return False
            at += 1
        return True
