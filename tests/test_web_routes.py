"""The app as assembled from its routers: every router mounted, one JSON error shape, state per app."""
import importlib
import pkgutil
import re

import pytest

pytest.importorskip("fastapi")

from fastapi.routing import APIWebSocketRoute  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from conftest import EXAMPLE  # noqa: E402
from emoscope.settings import WebSettings  # noqa: E402
from emoscope.web import create_app, routes  # noqa: E402

ROUTER_MODULES = [importlib.import_module(f"{routes.__name__}.{m.name}") for m in pkgutil.iter_modules(routes.__path__)]
ROUTES = [(module.__name__.rsplit(".", 1)[1], route) for module in ROUTER_MODULES for route in module.router.routes]


@pytest.fixture(scope="module")
def client(analyzer_haar, tmp_path_factory):
    with TestClient(create_app(analyzer_haar, WebSettings(jobs_dir=tmp_path_factory.mktemp("jobs")))) as test_client:
        yield test_client


def test_every_router_has_routes():
    assert {name for name, _ in ROUTES} == {m.__name__.rsplit(".", 1)[1] for m in ROUTER_MODULES}


@pytest.mark.parametrize("route", [route for _, route in ROUTES], ids=[f"{n}:{r.path}" for n, r in ROUTES])
def test_every_route_of_every_router_is_mounted(client, route):
    path = re.sub(r"\{\w+\}", "x", route.path)
    if isinstance(route, APIWebSocketRoute):
        with client.websocket_connect(path):
            return
    for method in route.methods:
        response = client.request(method, path)  # no body, made-up IDs: the route's own answer, not the router's
        assert response.status_code != 405 and response.text != '{"error":"Not Found"}', (method, path)


@pytest.mark.parametrize("method, path, status, error", [
    ("GET", "/api/nothing", 404, "Not Found"),
    ("GET", "/api/videos/x", 404, "no such job"),
    ("PUT", "/api/analyze", 405, "Method Not Allowed"),
    ("POST", "/health", 405, "Method Not Allowed"),
    ("POST", "/api/analyze", 422, "body.image: Field required"),
    ("POST", "/api/analyze?annotated=maybe", 422, "query.annotated: Input should be a valid boolean, unable to "
                                                  "interpret input"),
])
def test_errors_are_json_with_one_message(client, method, path, status, error):
    response = client.request(method, path)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_each_app_keeps_its_own_limits(analyzer_haar, tmp_path):
    photo = EXAMPLE.read_bytes()
    strict = WebSettings(max_image_bytes=len(photo) - 1, jobs_dir=tmp_path / "strict")
    with TestClient(create_app(analyzer_haar, strict)) as strict_client, \
            TestClient(create_app(analyzer_haar, WebSettings(jobs_dir=tmp_path / "open"))) as open_client:
        for client, status in ((strict_client, 413), (open_client, 200), (strict_client, 413)):
            assert client.post("/api/analyze", files={"image": ("me.png", photo, "image/png")}).status_code == status
