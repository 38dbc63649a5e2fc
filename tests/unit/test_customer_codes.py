"""Every refusal code the customer page can meet is worded in every language of the page.

The page turns a server refusal into words by its code (``serverError`` in
web/shared/i18n.js: ``server.<where>.<code>``, then ``server.<code>``); a code without a text
falls back to the server's English message. This test reads the codes the server can send
from the source of what a customer touches and checks each has its ``server.<code>`` text (or
one per kind of request) in English and French.
"""

from __future__ import annotations

from tests.unit.refusal_codes import ROOT, block, codes_in, worded

# What a customer's requests reach: the tap, photos, CSAT, socket.io acks and connection
# refusals on /customer, the call room, recording consent, media signaling, the desk.
CUSTOMER_FACING = (
    "videoassist/http/api.py",
    "videoassist/http/calls.py",
    "videoassist/http/middleware.py",
    "videoassist/http/guard.py",
    "videoassist/gateway/acks.py",
    "videoassist/gateway/hardening.py",
    "videoassist/gateway/namespaces.py",
    "videoassist/call_room.py",
    "videoassist/call_content.py",
    "videoassist/recording.py",
    "videoassist/media/hub.py",
    "videoassist/desk/errors.py",
)
# Codes in those files that only staff meet: the agent's and admin's sides of the same code.
STAFF_ONLY = frozenset(
    {
        "bad_credentials",  # staff login
        "not_frozen",  # the agent's unfreeze
        "duplicate",  # an agent's annotation id
        "no_video",  # the agent's freeze before any picture
        "not_supervising",  # a supervisor's listening
    }
)


def _codes() -> set[str]:
    return codes_in(CUSTOMER_FACING) - STAFF_ONLY


def _worded(language: str) -> set[str]:
    source = (ROOT / "web/shared/i18n.js").read_text()
    return worded(block(source, "const en = {" if language == "en" else "const fr = "), "server")


def test_the_customer_facing_code_is_found() -> None:
    codes = _codes()
    # A sample the patterns must catch, so the test cannot pass by reading nothing.
    assert {"queue_full", "closed", "rate_limited", "forbidden", "too_large", "conflict"} <= codes


def test_every_code_a_customer_can_meet_has_a_text_in_every_language() -> None:
    codes = _codes()
    for language in ("en", "fr"):
        missing = sorted(codes - _worded(language))
        assert missing == [], f"{language}: no server.<code> text for {missing}"
