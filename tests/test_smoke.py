import httpx2

from ctct.emulator import create_app
from ctct.emulator.inprocess import SyncASGITransport
from tests.conftest import Running


def test_emulator_app_answers_with_date_header_on_loopback_host() -> None:
    app = create_app()
    transport = SyncASGITransport(app)
    with httpx2.Client(transport=transport, base_url="http://127.0.0.1") as c:
        response = c.get("/nowhere")
    assert response.status_code == 404
    assert "date" in response.headers


def test_emulator_refuses_foreign_host_header() -> None:
    app = create_app()
    transport = SyncASGITransport(app)
    with httpx2.Client(transport=transport, base_url="http://evil.example") as c:
        response = c.get("/__emulator/counters")
    assert response.status_code == 421


def test_both_modes_serve_the_same_app(running: "Running") -> None:
    response = running.client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["date"].endswith("GMT")
