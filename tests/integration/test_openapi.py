"""docs/openapi.yaml describes exactly the HTTP routes the application serves.

socket.io (``/socket.io/``, documented in docs/protocol.md) and the static file trees
(``/static/``, ``/vendor/``) are left out, and so are the HEAD routes aiohttp adds for every GET.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

# Imported under another name so that pytest does not collect it as a test.
from tests.support.harness import test_settings as settings_for
from videoassist.app import create_app

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
OPERATIONS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
NOT_IN_SPEC = ("/socket.io/", "/static/", "/vendor/", "/testing")

Endpoint = tuple[str, str]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as f:
        document: dict[str, Any] = yaml.safe_load(f)
    return document


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    """The real router; nothing is started (no database, no service, no media)."""
    return create_app(settings_for(tmp_path))


def routed(app: web.Application) -> set[Endpoint]:
    endpoints: set[Endpoint] = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith(NOT_IN_SPEC):
            endpoints.add((route.method.upper(), path))
    return {
        (method, path)
        for method, path in endpoints
        if not (method == "HEAD" and ("GET", path) in endpoints)
    }


def documented(spec: dict[str, Any]) -> set[Endpoint]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in OPERATIONS
    }


def _sorted(endpoints: set[Endpoint]) -> list[str]:
    return [f"{method} {path}" for method, path in sorted(endpoints, key=lambda e: (e[1], e[0]))]


class TestRoutesMatchTheDocument:
    def test_every_route_the_app_serves_is_documented(
        self, app: web.Application, spec: dict[str, Any]
    ) -> None:
        missing = routed(app) - documented(spec)
        assert not missing, f"routes without an entry in docs/openapi.yaml: {_sorted(missing)}"

    def test_every_documented_route_is_served(
        self, app: web.Application, spec: dict[str, Any]
    ) -> None:
        stale = documented(spec) - routed(app)
        assert not stale, f"docs/openapi.yaml documents routes the app lacks: {_sorted(stale)}"

    def test_the_comparison_sees_the_known_routes(self, app: web.Application) -> None:
        """Guards the filter itself: if it dropped everything, the two tests above would pass."""
        assert {("POST", "/api/tickets"), ("GET", "/api/me"), ("GET", "/")} <= routed(app)
        assert not any(path.startswith(NOT_IN_SPEC) for _, path in routed(app))


class TestTheDocumentIsWellFormed:
    def test_it_is_openapi_3_1_and_every_operation_has_responses(
        self, spec: dict[str, Any]
    ) -> None:
        assert str(spec["openapi"]).startswith("3.1.")
        for path, item in spec["paths"].items():
            for method in OPERATIONS & item.keys():
                assert item[method].get("responses"), f"{method.upper()} {path} has no responses"

    def test_every_reference_resolves(self, spec: dict[str, Any]) -> None:
        for ref in _refs(spec):
            assert ref.startswith("#/"), f"only local references are used: {ref}"
            node: Any = spec
            for part in ref[2:].split("/"):
                assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
                node = node[part]

    def test_it_passes_the_openapi_spec_validator(self, spec: dict[str, Any]) -> None:
        validator = pytest.importorskip("openapi_spec_validator")
        validator.validate(spec)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for key, value in node.items() if key != "$ref" for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []
