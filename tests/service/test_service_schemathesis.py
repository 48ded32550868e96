"""Property-based checks of the whole API against its own OpenAPI schema (schemathesis).

Requests are generated from ``/openapi.json`` for every operation and sent in-process (ASGI) with
a valid admin key, over a seeded store: no response may be a 5xx, and every response must match
the schema (status code documented, content type, headers, body), and the other default checks
hold (schema-violating requests refused, 405s naming the allowed methods, 401 without the key).
Bounded: 25 examples per operation, a few hundred requests in all, derandomized so that CI runs
the same requests every time.

One false alarm to know of when exploring with other seeds: a query parameter that is a string
(``org``, ``member``) can be sent a "boolean" ``false`` by the negative generator, which on the
wire is the valid id ``false``; the check then reports a schema-violating request accepted.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from service import Settings, create_app
from service_support import bearer, make_keys, seed, wait_ready


class _Target:
    """The ASGI app schemathesis calls: forwards to whichever app the fixture has started.

    schemathesis reads the schema when this module is collected; the app it then tests runs over
    a temporary store that exists only once the fixture has made it.
    """

    def __init__(self) -> None:
        # Serves only /openapi.json at collection: building an app opens nothing.
        self.app = create_app(Settings(store="never-opened"))

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            # The fixture runs the app's lifespan (one engine); schemathesis must not start another.
            raise RuntimeError("the lifespan is run by the test fixture")
        await self.app(scope, receive, send)


# Schema-valid requests may still be refused with 422 for what a schema cannot state: rules across
# fields (an activity must be offline, expires not before published) and references to members or
# items that do not exist. Everything else a valid request gets must be as by default.
_CONFIG = SchemathesisConfig.from_str("""
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
""")

_target = _Target()
schema = schemathesis.openapi.from_asgi("/openapi.json", _target, config=_CONFIG)


@pytest.fixture(scope="module")
def admin_key(tmp_path_factory):
    """Start the app over a seeded store for the module; the admin key of the first tenant."""
    store = tmp_path_factory.mktemp("schemathesis") / "store"
    keys = make_keys(store / "keys.json")
    app = create_app(Settings(store=store, encoder="tfidf"))
    with TestClient(app) as client:
        wait_ready(client)
        seed(client, keys)
        _target.app = app
        yield keys.admin


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, admin_key):
    case.call_and_validate(headers=bearer(admin_key))
