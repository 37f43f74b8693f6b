"""Forgot/reset password and email verification, through the outbox and through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import threading

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from cumulo.client import ApiError, Client
from cumulo.core.ids import sha256_hex
from cumulo.services.identity.models import OneTimeToken
from cumulo.testing.server import LiveServer, free_port
from tests.conftest import PASSWORD, new_email
from tests.services.identity.conftest import last_token, mails_to

NEW_PASSWORD = "An0ther-secret"
FORGOT = "If the email exists, a reset token has been sent."


def _forgot(server: LiveServer, address: str) -> httpx.Response:
    return httpx.post(f"{server.url}/auth/forgot-password", json={"email": address})


def _reset(server: LiveServer, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return httpx.post(f"{server.url}/auth/reset-password", json={"token": token, "new_password": password})


def test_forgot_password_answers_the_same_for_unknown_emails(server: LiveServer) -> None:
    address = new_email()
    Client(server.url).identity.register(address, PASSWORD, "F")
    known, unknown = _forgot(server, address), _forgot(server, new_email())
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == {"message": FORGOT}


def test_reset_token_works_once(server: LiveServer) -> None:
    address = new_email()
    c = Client(server.url)
    c.identity.register(address, PASSWORD, "G")
    _forgot(server, address)
    token = last_token(server, address, "Reset")
    assert _reset(server, token).json() == {"message": "password updated successfully"}
    again = _reset(server, token, "Yet-an0ther-pass")
    assert again.status_code == 400 and again.json()["error"]["code"] == "INVALID_TOKEN"
    with pytest.raises(ApiError):
        c.identity.login(address, PASSWORD)
    assert c.identity.login(address, NEW_PASSWORD)["user"]["email"] == address


def test_expired_reset_token_is_refused(server: LiveServer) -> None:
    address = new_email()
    Client(server.url).identity.register(address, PASSWORD, "H")
    _forgot(server, address)
    token = last_token(server, address, "Reset")

    async def expire() -> None:
        async with server.platform.db.session() as s:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await s.execute(update(OneTimeToken).where(OneTimeToken.token_hash == sha256_hex(token)).values(expires_at=past))
            await s.commit()

    server.call(expire())
    r = _reset(server, token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_TOKEN"


def test_reset_token_is_valid_for_one_hour_and_stored_hashed(server: LiveServer) -> None:
    address = new_email()
    Client(server.url).identity.register(address, PASSWORD, "I")
    _forgot(server, address)
    token = last_token(server, address, "Reset")

    async def row() -> OneTimeToken:
        from sqlalchemy import select
        async with server.platform.db.session() as s:
            return (await s.scalars(select(OneTimeToken).where(OneTimeToken.token_hash == sha256_hex(token)))).one()

    stored = server.call(row())
    lifetime = stored.expires_at.replace(tzinfo=None) - stored.created_at.replace(tzinfo=None)
    assert dt.timedelta(minutes=59) < lifetime <= dt.timedelta(hours=1)
    assert stored.token_hash != token


@pytest.mark.parametrize("body", [{"token": "nope", "new_password": NEW_PASSWORD}, {"token": "", "new_password": NEW_PASSWORD},
                                  {"token": "x", "new_password": "weak"}, {"token": "x"}])
def test_bad_reset_requests_are_400(server: LiveServer, body: dict) -> None:
    r = httpx.post(f"{server.url}/auth/reset-password", json=body)
    assert r.status_code == 400


def test_weak_new_password_does_not_consume_the_token(server: LiveServer) -> None:
    address = new_email()
    Client(server.url).identity.register(address, PASSWORD, "J")
    _forgot(server, address)
    token = last_token(server, address, "Reset")
    assert _reset(server, token, "weakweak").status_code == 400
    assert _reset(server, token).status_code == 200


def test_verification_mail_and_required_verification(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(require_email_verification=True)
    address = new_email()
    c = Client(live.url)
    c.identity.register(address, PASSWORD, "K")
    with pytest.raises(ApiError) as err:
        c.identity.login(address, PASSWORD)
    assert err.value.status == 403 and err.value.code == "EMAIL_NOT_VERIFIED"
    token = last_token(live, address, "Verify")
    assert httpx.get(f"{live.url}/auth/verify/{token}").json() == {"message": "email verified"}
    assert httpx.get(f"{live.url}/auth/verify/{token}").status_code == 400
    assert c.identity.login(address, PASSWORD)["user"]["email_verified"] is True


class _Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.event = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(email.message_from_bytes(envelope.content))
        self.event.set()
        return "250 OK"


def test_mail_goes_through_a_real_smtp_server(make_server) -> None:  # type: ignore[no-untyped-def]
    sink = _Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        live = make_server(smtp_host="127.0.0.1", smtp_port=port)
        address = new_email()
        Client(live.url).identity.register(address, PASSWORD, "L")
        assert sink.event.wait(10)
        msg = sink.messages[-1]
        assert msg["To"] == address and "Verify" in msg["Subject"]
        assert f"{live.url}/auth/verify/" in msg.get_payload(decode=True).decode()
        assert mails_to(live, address) == []  # nothing went to the outbox
    finally:
        controller.stop()


def test_registration_survives_an_unreachable_smtp_server(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(smtp_host="127.0.0.1", smtp_port=free_port())
    address = new_email()
    c = Client(live.url)
    c.identity.register(address, PASSWORD, "M")
    assert c.identity.login(address, PASSWORD)["user"]["email"] == address
