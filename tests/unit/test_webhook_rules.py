"""The pure parts of the integrations: which webhook URLs are refused, the retry schedule, the
signature recipe, the event a saved session leg means, and the token scope table."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from videoassist.api_tokens import SCOPES
from videoassist.desk.events import SessionRow
from videoassist.integrations import session_event
from videoassist.webhooks import Policy, sign, url_problem

PRIVATE = [
    "http://127.0.0.1/x",
    "http://127.1.2.3:8080/x",
    "http://10.0.0.5/x",
    "http://172.16.0.1/x",
    "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/x",
    "http://[fd00::1]/x",
    "http://[fe80::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://0.0.0.0/x",
    "http://224.0.0.1/x",
    "http://localhost:9000/x",
    "http://api.localhost/x",
    "http://printer.local/x",
]


class TestUrls:
    @pytest.mark.parametrize("url", PRIVATE)
    def test_private_and_loopback_addresses_are_refused_by_default(self, url: str) -> None:
        assert url_problem(url, allow_private=False) is not None
        assert url_problem(url, allow_private=True) is None

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://hooks.example/x",
            "hooks.example/x",
            "https://user:secret@hooks.example/x",
            "https://hooks.example/x#part",
            "https:///x",
            "http://hooks.example:0/x",
            "http://hooks.example:99999/x",
            "https://hooks.example/" + "x" * 2048,
        ],
    )
    def test_malformed_urls_are_refused_whatever_the_setting(self, url: str) -> None:
        assert url_problem(url, allow_private=True) is not None

    @pytest.mark.parametrize(
        "url",
        ["https://hooks.example/x", "http://93.184.215.14:8443/hook", "https://[2606:4700::1]/"],
    )
    def test_public_names_and_addresses_are_accepted(self, url: str) -> None:
        assert url_problem(url, allow_private=False) is None


class TestRetrySchedule:
    def test_delays_double_within_their_jitter_and_stop_at_the_cap(self) -> None:
        random.seed(7)
        policy = Policy(backoff=10.0, backoff_max=100.0)
        for attempts, base in ((1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 100.0), (9, 100.0)):
            delays = [policy.delay(attempts) for _ in range(200)]
            assert all(base / 2 <= d <= base for d in delays), (attempts, min(delays), max(delays))
            assert max(delays) - min(delays) > base / 4  # jittered, not one fixed delay


class TestSignature:
    def test_the_signature_is_hmac_sha256_over_timestamp_dot_body(self) -> None:
        body = b'{"id":"e1"}'
        expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
        assert sign("whsec_k", 1700000000, body) == f"v1={expected}"
        assert sign("whsec_k", 1700000001, body) != sign("whsec_k", 1700000000, body)


class TestSessionEvents:
    ROW = SessionRow("s1", "t1", "u1", queued_at=100.0, answered_at=130.0, call_id="c1")

    def test_a_leg_without_an_end_has_started(self) -> None:
        name, data = session_event(self.ROW, None) or ("", {})
        assert name == "session.started"
        assert (data["wait"], data["call_id"], data["queue"]) == (30.0, "c1", None)

    def test_an_end_without_a_wrap_up_has_ended_and_then_the_wrap_up_follows(self) -> None:
        ended = SessionRow(**_fields(self.ROW, ended_at=190.0, end_reason="agent_hung_up"))
        name, data = session_event(ended, None) or ("", {})
        assert (name, data["duration"], data["end_reason"]) == (
            "session.ended",
            60.0,
            "agent_hung_up",
        )
        wrapped = SessionRow(**_fields(ended, disposition="resolved", wrapped_up_at=200.0))
        name, data = session_event(wrapped, None) or ("", {})
        assert (name, data["disposition"]) == ("session.wrapped_up", "resolved")


def _fields(row: SessionRow, **changes: object) -> dict[str, object]:
    values = {name: getattr(row, name) for name in SessionRow.__dataclass_fields__}
    values.update(changes)
    return values


def test_every_scope_opens_something_and_is_described() -> None:
    from videoassist.http.tokens import SCOPE_OF

    assert set(SCOPE_OF.values()) == set(SCOPES)
    assert all(SCOPES[scope] for scope in SCOPES)
