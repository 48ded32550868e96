"""The service is a thin layer: handlers parse, call the Engine's public methods and leave status
codes to one table; the visibility of path records is one dependency every route shares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import service
from recsys import StoreError
from service.deps import get_engine
from service_support import bearer, seeded_client

# The engine's store and private parts are the library's business; a driver's exceptions never
# reach the service (the library turns them into StoreError). ``settings.store`` (where the
# store is) is fine: only the engine's store object is off limits.
FORBIDDEN = re.compile(r"\bengine\.store\b|\.store\.|\bsqlite3\b|\bengine\._")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A started app over a seeded two-tenant store: ``(client, keys)``."""
    with seeded_client(tmp_path_factory.mktemp("layers") / "store") as world:
        yield world


def _get_routes(client, slot: str) -> list[str]:
    # The app's routes as it publishes them: FastAPI nests included routers in app.routes.
    paths = client.app.openapi()["paths"]
    return sorted(path for path, operations in paths.items() if slot in path and "get" in operations)


def test_no_service_module_reaches_into_the_engine_or_the_database():
    root = Path(service.__file__).parent
    offending = [
        f"{path.relative_to(root.parent)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]
    assert offending == []


@pytest.mark.parametrize(("slot", "known", "owner", "visible", "missing"), [
    ("member_id", {"/v1/members/{member_id}", "/v1/members/{member_id}/daily"}, "a", "m-a", "m-zz"),
    ("item_id", {"/v1/items/{item_id}", "/v1/items/{item_id}/similar"}, "b", "b-item", "b-zz"),
])
def test_another_tenants_record_is_404_like_a_missing_one_on_every_route(world, slot, known, owner,
                                                                         visible, missing):
    client, keys = world
    other = {"a": keys.b, "b": keys.a}[owner]
    paths = _get_routes(client, "{" + slot + "}")
    assert known <= set(paths)
    for path in paths:
        assert client.get(path.format(**{slot: visible}), headers=bearer(getattr(keys, owner))).status_code \
            == 200, path
        foreign = client.get(path.format(**{slot: visible}), headers=bearer(other))
        absent = client.get(path.format(**{slot: missing}), headers=bearer(other))
        assert foreign.status_code == absent.status_code == 404, path
        assert foreign.json()["error"]["code"] == "not_found"
        assert foreign.json()["error"]["message"].replace(visible, "ID") == \
            absent.json()["error"]["message"].replace(missing, "ID"), path


def test_a_member_filter_of_another_tenant_is_404_like_a_missing_one(world):
    client, keys = world
    for url in ["/v1/search?q=安全&member={}", "/v1/items/safety/similar?member={}"]:
        assert client.get(url.format("m-a"), headers=bearer(keys.a)).status_code == 200, url
        foreign = client.get(url.format("m-a"), headers=bearer(keys.b))
        missing = client.get(url.format("m-zz"), headers=bearer(keys.b))
        assert foreign.status_code == missing.status_code == 404, url
        assert foreign.json()["error"]["message"].replace("m-a", "ID") == \
            missing.json()["error"]["message"].replace("m-zz", "ID"), url


def test_a_busy_store_is_a_503_to_retry_naming_no_server_path(world):
    client, keys = world

    class Busy:
        def tenant(self, org):  # requests work in their enterprise's view: this one
            return self

        def member(self, member_id):
            raise StoreError("/srv/recsys/recsys.db: the store is busy (another process holds a lock on it)")

    client.app.dependency_overrides[get_engine] = lambda: Busy()
    try:
        response = client.get("/v1/members/m-a", headers=bearer(keys.a))
    finally:
        client.app.dependency_overrides.clear()
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "store_unavailable" and "try again" in error["message"]
    assert "/srv" not in response.text


def test_the_service_takes_a_database_url_as_its_store_and_then_needs_a_keys_file(tmp_path):
    from recsys.storage import store_folder
    from service.settings import Settings

    assert store_folder("sqlite:///srv/recsys") == store_folder(Path("/srv/recsys")) == Path("/srv/recsys")
    assert store_folder("postgresql://recsys:secret@db:5432/recsys") is None
    assert Settings(store=tmp_path / "s").keys_path == tmp_path / "s" / "keys.json"
    assert Settings(store=f"sqlite://{tmp_path}/s").keys_path == tmp_path / "s" / "keys.json"
    url = "postgresql://recsys:secret@db:5432/recsys"
    assert Settings(store=url).store == url  # kept a URL, not made a path
    with pytest.raises(ValueError, match="RECSYS_KEYS_FILE"):
        Settings(store=url).keys_path
    assert Settings(store=url, keys_file=tmp_path / "keys.json").keys_path == tmp_path / "keys.json"
