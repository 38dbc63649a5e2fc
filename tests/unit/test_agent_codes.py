"""Every refusal code the agent console can meet is worded in every language of the console.

The console turns a refusal into words by its code (``explain`` in web/agent/agent.js:
``agent.server.<where>.<code>``, then ``agent.server.<code>``); a code without a text falls
back to the server's English message, which a French agent should not have to read. This test
reads the codes the server can send from the source of what the console's requests reach and
checks each has a text in web/shared/i18n-agent.js in English and French.
"""

from __future__ import annotations

from tests.unit.refusal_codes import ROOT, block, codes_in, worded

# What the console's requests reach: the login, socket.io acks and connection refusals on
# /agent, the call room (chat, marks, freeze), recording, tutorials, media signaling, the desk.
AGENT_FACING = (
    "videoassist/http/api.py",
    "videoassist/http/middleware.py",
    "videoassist/gateway/acks.py",
    "videoassist/gateway/hardening.py",
    "videoassist/gateway/namespaces.py",
    "videoassist/call_room.py",
    "videoassist/recording.py",
    "videoassist/tutorials.py",
    "videoassist/media/hub.py",
    "videoassist/desk/errors.py",
)
# Codes in those files that the console never shows by their code.
NOT_SHOWN = frozenset(
    {
        "active_ticket",  # the customer's tap
        "closed",  # the customer's tap
        "queue_full",  # the customer's tap
        "identity_required",  # the customer's tap
        "request_ended",  # the customer's tap sent again
        "not_supervising",  # the supervisor wall's listening
        "bad_credentials",  # a 401 at login, worded as agent.login.wrong
        "unauthenticated",  # a 401: the console shows its login form
        "incomplete",  # answered to a client that left before its request was read
        "bad_candidate",  # ICE candidates are sent without waiting for the answer
    }
)


def _codes() -> set[str]:
    return codes_in(AGENT_FACING) - NOT_SHOWN


def _worded(language: str) -> set[str]:
    source = (ROOT / "web/shared/i18n-agent.js").read_text()
    opening = "export const agentEn = {" if language == "en" else "export const agentFr = {"
    return worded(block(source, opening), "agent.server")


def test_the_agent_facing_code_is_found() -> None:
    # A sample the patterns must catch, so the test cannot pass by reading nothing.
    assert {"no_video", "not_frozen", "illegal_transition", "rate_limited", "too_many"} <= _codes()


def test_every_code_the_console_can_meet_has_a_text_in_every_language() -> None:
    codes = _codes()
    for language in ("en", "fr"):
        missing = sorted(codes - _worded(language))
        assert missing == [], f"{language}: no agent.server.<code> text for {missing}"


def test_what_the_console_does_not_show_is_still_sent_by_the_server() -> None:
    """An exception left behind when its code goes away would hide nothing and mislead."""
    assert codes_in(AGENT_FACING) >= NOT_SHOWN
