"""Who gets in: tokens on every route and the WebSocket, jobs private to their token, security
headers, request-size limits enforced while receiving."""
import asyncio
import re

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("av")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.testclient import WebSocketDenialResponse  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from conftest import EXAMPLE, make_clip  # noqa: E402
from emoscope.settings import WebSettings  # noqa: E402
from emoscope.web import create_app  # noqa: E402
from emoscope.web.app import STATIC  # noqa: E402
from emoscope.web.security import COOKIE, Guard, serve_tokens  # noqa: E402

ALICE, BOB = "alice-token-0123456789", "bob-token-9876543210"
ROUTES = [("GET", "/"), ("GET", "/video"), ("GET", "/live"), ("GET", "/docs"), ("GET", "/static/common.js"),
          ("GET", "/swagger/swagger-ui.css"), ("GET", "/openapi.json"), ("GET", "/health"), ("GET", "/api/models"),
          ("GET", "/api/videos"), ("POST", "/api/analyze"), ("POST", "/api/videos"), ("GET", "/api/videos/x"),
          ("DELETE", "/api/videos/x"), ("GET", "/api/videos/x/summary.json"), ("GET", "/nowhere")]


@pytest.fixture(scope="module")
def app(analyzer_haar, tmp_path_factory):
    settings = WebSettings(tokens=(ALICE, BOB), max_image_bytes=1024 * 1024, max_video_bytes=2 * 1024 * 1024,
                           jobs_dir=tmp_path_factory.mktemp("jobs"))
    app = create_app(analyzer_haar, settings)
    with TestClient(app):  # runs the app's lifespan once; the clients below share it
        yield app


@pytest.fixture
def anonymous(app):
    return TestClient(app)


def as_user(app, token):
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("credentials", [{}, {"headers": {"Authorization": "Bearer wrong"}},
                                         {"headers": {"Cookie": f"{COOKIE}=wrong"}}, {"params": {"token": ""}},
                                         {"headers": {"Authorization": f"Basic {ALICE}"}}])
def test_every_route_wants_a_valid_token(anonymous, method, path, credentials):
    response = anonymous.request(method, path, **credentials)
    assert response.status_code == 401
    assert "token" in response.json()["error"]


@pytest.mark.parametrize("url", ["/ws/live", "/ws/live?token=wrong"])
def test_the_websocket_wants_a_valid_token(anonymous, url):
    with pytest.raises(WebSocketDenialResponse) as denied:
        with anonymous.websocket_connect(url):
            pass
    assert denied.value.status_code == 401


def test_a_token_link_sets_a_cookie_that_opens_pages_and_the_socket(app):
    browser = TestClient(app)
    first = browser.get(f"/live?token={ALICE}&x=1", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/live?x=1"  # the token leaves the URL
    assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
    assert browser.get("/live").status_code == 200
    assert browser.get("/api/models").status_code == 200
    with browser.websocket_connect("/ws/live") as socket:
        socket.send_text("not json")
        assert "error" in socket.receive_json()


def test_the_websocket_takes_the_token_as_a_query_parameter(anonymous):
    with anonymous.websocket_connect(f"/ws/live?token={BOB}") as socket:
        socket.send_bytes(EXAMPLE.read_bytes())
        assert len(socket.receive_json()["faces"]) == 1


@pytest.mark.parametrize("origin", ["http://evil.example", "https://testserver", "http://testserver:8080",
                                    "http://testserver.evil.example", "null"])
def test_a_cross_origin_websocket_is_refused(app, origin):
    with pytest.raises((WebSocketDenialResponse, WebSocketDisconnect)):
        with as_user(app, ALICE).websocket_connect("/ws/live", headers={"Origin": origin}):
            pass


@pytest.mark.parametrize("origin", ["http://testserver", "HTTP://TestServer", "http://testserver:80"])
def test_a_websocket_from_the_servers_own_page_is_served(app, origin):
    with as_user(app, ALICE).websocket_connect("/ws/live", headers={"Origin": origin}) as socket:
        socket.send_bytes(EXAMPLE.read_bytes())
        assert len(socket.receive_json()["faces"]) == 1


def test_a_video_job_belongs_to_the_token_that_made_it(app, tmp_path, example_image):
    clip = make_clip(tmp_path / "clip.mp4", example_image, frames=3).read_bytes()
    alice, bob = as_user(app, ALICE), as_user(app, BOB)
    job_id = alice.post("/api/videos", files={"video": ("mine.mp4", clip, "video/mp4")}).json()["id"]
    assert alice.get(f"/api/videos/{job_id}").status_code == 200
    assert [j["id"] for j in alice.get("/api/videos").json()["jobs"]] == [job_id]
    assert bob.get("/api/videos").json()["jobs"] == []
    for method, path in [("GET", f"/api/videos/{job_id}"), ("GET", f"/api/videos/{job_id}/summary.json"),
                         ("DELETE", f"/api/videos/{job_id}")]:
        assert bob.request(method, path).status_code == 404  # not even told that it exists
    assert alice.get(f"/api/videos/{job_id}").status_code == 200


@pytest.mark.parametrize("path", ["/", "/video", "/live", "/docs", "/api/models", "/static/photo.js", "/nowhere"])
def test_security_headers_on_pages_api_and_errors(app, path):
    headers = as_user(app, ALICE).get(path).headers
    policy = headers["content-security-policy"]
    script = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    style = re.search(r"style-src ([^;]+)", policy).group(1)
    assert "'unsafe-inline'" not in style
    assert "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("page", sorted(STATIC.glob("*.html")), ids=lambda p: p.name)
def test_pages_have_no_inline_script_handlers_or_style(page):
    html = page.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script is a file
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE)  # no onclick= and the like
    assert not re.search(r"\sstyle\s*=|<style", html, re.IGNORECASE)


@pytest.mark.parametrize("script", sorted(STATIC.glob("*.js")), ids=lambda p: p.name)
def test_scripts_write_no_inline_style_into_markup(script):
    assert not re.search(r"style=", script.read_text())  # styles go through element.style (the CSSOM)


def test_an_open_server_still_sends_the_headers(analyzer_haar, tmp_path):
    with TestClient(create_app(analyzer_haar, WebSettings(jobs_dir=tmp_path))) as client:
        response = client.get("/health")
    assert response.status_code == 200 and "frame-ancestors" in response.headers["content-security-policy"]


def test_a_declared_oversized_body_is_refused_before_it_is_read(app):
    read = []

    def body():
        read.append(1)
        yield b"x" * 1024

    response = as_user(app, ALICE).post("/api/analyze", content=body(),
                                        headers={"Content-Length": str(50 * 1024 * 1024), "Content-Type": "image/png"})
    assert response.status_code == 413 and "larger than" in response.json()["error"]
    assert not read


def test_an_undeclared_oversized_body_is_cut_off_while_it_streams(app):
    def body():  # a well-formed multipart upload of 4 MB, chunked: no Content-Length to check
        yield b'--x\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n\r\n'
        for _ in range(64):
            yield b"x" * 64 * 1024
        yield b"\r\n--x--\r\n"

    response = as_user(app, ALICE).post("/api/videos", content=body(),
                                        headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and "larger than 2 MB" in response.json()["error"]


def test_the_guard_stops_reading_at_the_limit():
    """At the ASGI level: the app reading a 64-chunk body sees a disconnect once the limit is passed,
    and the rest is never received from the client."""
    received, sent = [], []

    async def greedy_app(scope, receive, send):
        while (await receive())["type"] != "http.disconnect":
            pass

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": len(received) < 64}

    async def send(message):
        sent.append(message)

    guard = Guard(greedy_app, body_limits={"/up": 10 * 1024})
    asyncio.run(guard({"type": "http", "method": "POST", "path": "/up", "headers": []}, receive, send))
    assert len(received) == 11 and sent[0]["status"] == 413


@pytest.mark.parametrize("host, given, env, expected", [
    ("127.0.0.1", None, None, ()),
    ("::1", None, None, ()),
    ("localhost", "given", None, ("given",)),
    ("0.0.0.0", "a,b", None, ("a", "b")),
    ("0.0.0.0", None, "from-env", ("from-env",)),
])
def test_which_tokens_serve_requires(monkeypatch, host, given, env, expected):
    monkeypatch.delenv("EMOSCOPE_TOKEN", raising=False)
    if env:
        monkeypatch.setenv("EMOSCOPE_TOKEN", env)
    assert serve_tokens(host, given) == expected


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_beyond_loopback_a_token_is_generated(monkeypatch, host):
    monkeypatch.delenv("EMOSCOPE_TOKEN", raising=False)
    (token,) = serve_tokens(host)
    assert len(token) >= 24 and serve_tokens(host) != (token,)
