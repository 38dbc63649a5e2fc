"""The whole-server fuzzer: input generators, SDP mutators, the world of clients, the checks.

What the inputs must never do to the server is written at the top of
``tests/integration/test_fuzz.py``, which runs a bounded, derandomized amount of them;
``bench/fuzz_long.py`` runs the same generators for hours. Both go through this module only, so
that the soak test and CI fuzz exactly the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import logging
import re
import time
import types
import typing
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import cv2
import numpy as np
import pytest
import socketio
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from pydantic import BaseModel
from socketio import packet

from tests.support.calls import offer_without_candidates
from tests.support.harness import Harness, Party, connect_socket, wait_until
from tests.support.harness import test_settings as settings_for
from tests.unit.desk_invariants import check_invariants
from videoassist.auth import hash_password
from videoassist.desk import AgentState, TicketState
from videoassist.gateway import AgentNamespace, CustomerNamespace
from videoassist.http.admin import AgentIn, QueueIn, TopicIn
from videoassist.http.api import LoginIn, TapIn
from videoassist.routing_config import agent_id_of

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- values

PASSWORD = "fuzz-password-1"

# Lengths at and around every cap: ids 64, tokens 512, candidates 1024, chat 1000, notes 2000,
# SDP 32 KiB, a socket.io message and an HTTP body 64 KiB.
CAPS = (0, 1, 9, 10, 63, 64, 65, 512, 513, 1000, 1001, 1024, 1025, 2000, 2001, 32768, 32769)
LENGTHS = st.sampled_from((*CAPS, 65536, 70000)) | st.integers(0, 70_000)
ODD_CHARS = (
    "\x00",
    "\x7f",
    "\u202e",
    "\ufeff",
    "\ud800",
    "\udfff",
    "😀",
    "\r",
    "\n",
    '"',
    "\\",
    "/",
)
CHARS = st.characters(codec="utf-8") | st.sampled_from(ODD_CHARS)
SHORT_TEXT = st.text(CHARS, max_size=24)


def _repeat(piece: str, length: int) -> str:
    return (piece * (length // len(piece) + 1))[:length]


HUGE_TEXT = st.builds(_repeat, st.text(CHARS, min_size=1, max_size=4), LENGTHS)
NUMBERS = (
    st.integers()
    | st.floats()
    | st.sampled_from(
        [0, -1, 16, 17, 2**31, 2**53 + 1, 2**63, -(2**63), 2**64, 10**100, 1e308, float("inf")]
    )
)
JSON_SCALARS = st.none() | st.booleans() | NUMBERS | SHORT_TEXT | HUGE_TEXT


def _nest(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=5) | st.dictionaries(SHORT_TEXT, kids, max_size=5),
        max_leaves=10,
    )


JSON = _nest(JSON_SCALARS)  # what an HTTP body can carry
SOCKET_JSON = _nest(JSON_SCALARS | st.binary(max_size=32))  # socket.io also carries bytes


@dataclass(frozen=True, slots=True)
class Ref:
    """A placeholder for a real id of the running world (a ticket, session, call, agent or
    queue), picked when the input is sent: ids the server knows get past the first checks."""

    pick: int


@dataclass(frozen=True, slots=True)
class RealOffer:
    """A placeholder for a real browser offer."""


REFS = st.builds(Ref, st.integers(0, 1_000))


def values_for(annotation: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Inputs for one field of a pydantic model: anything at all, numbers and strings at the
    caps, real ids, the allowed words of a Literal, and nested objects shaped like the field."""
    options: list[st.SearchStrategy[Any]] = [JSON_SCALARS, REFS, HUGE_TEXT]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return values_for(args[0], depth)
    if origin is Literal:
        options += [st.sampled_from(args)] * 3
    elif origin in (typing.Union, types.UnionType):
        options += [values_for(a, depth + 1) for a in args if a is not type(None)]
    elif origin is list and args and depth < 3:
        options.append(st.lists(values_for(args[0], depth + 1), max_size=80))
    elif origin is dict and len(args) == 2 and depth < 3:
        keys = values_for(args[0], depth + 1).filter(lambda k: isinstance(k, str))
        options.append(st.dictionaries(keys, values_for(args[1], depth + 1), max_size=40))
    elif inspect.isclass(annotation) and issubclass(annotation, BaseModel) and depth < 3:
        options.append(objects_for(annotation, depth + 1))
    return st.one_of(options)


def objects_for(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with any subset of ``model``'s fields, each valid or not."""
    fields = {
        name: (st.just(RealOffer()) | values_for(info.annotation, depth))
        if name == "sdp"
        else values_for(info.annotation, depth)
        for name, info in model.model_fields.items()
    }
    return st.fixed_dictionaries({}, optional=fields)  # type: ignore[arg-type]


# Plausible values: what a well-behaved client would send, so that inputs get past validation
# and reach authorization, the desk, the media and the call room.
COORD = st.floats(0, 1) | st.sampled_from([-0.1, 1.5, 0.5])
POINTS = st.lists(st.lists(COORD, min_size=2, max_size=2), min_size=1, max_size=8)
ANNOTATIONS = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("arrow"),
            "id": st.sampled_from(["a1", "a2"]),
            "from": POINTS.map(lambda p: p[0]),
            "to": POINTS.map(lambda p: p[0]),
        },
        optional={"color": st.sampled_from(["red", "#00ff00", "nope"]), "sticky": st.booleans()},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("pen"), "id": st.sampled_from(["p1", "p2"]), "points": POINTS},
        optional={"width": NUMBERS},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["rect", "ellipse"]),
            "id": st.just("r1"),
            "from": POINTS.map(lambda p: p[0]),
            "to": POINTS.map(lambda p: p[0]),
        },
        optional={"sticky": st.booleans(), "lifetime": NUMBERS},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("text"), "id": st.just("t1"), "at": POINTS.map(lambda p: p[0])},
        optional={"text": SHORT_TEXT | HUGE_TEXT, "size": NUMBERS},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("laser"), "id": st.just("l1"), "at": POINTS.map(lambda p: p[0])}
    ),
)
CANDIDATES = st.sampled_from(
    [
        "",
        "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
        "candidate:3 1 udp 1686052607 203.0.113.7 50001 typ srflx raddr 10.0.0.2 rport 5",
        "candidate:4 1 udp 41885439 198.51.100.1 3478 typ relay raddr 0.0.0.0 rport 0",
        "1 1 udp 1 example.local 9 typ host",
    ]
) | st.builds(lambda t: "candidate:" + t, SHORT_TEXT)
PLAUSIBLE_BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "session_id": REFS,
    "ticket_id": REFS,
    "agent_id": REFS,
    "queue_id": REFS | st.just("general"),
    "sdp": st.just(RealOffer()),
    "candidate": CANDIDATES,
    "sdpMid": st.sampled_from(["0", "1", "audio", None]),
    "sdpMLineIndex": st.sampled_from([0, 1, 2, None]),
    "annotation": ANNOTATIONS,
    "points": POINTS,
    "id": st.sampled_from(["a1", "p1", "p2", "r1", "t1", "zz"]),
    "topic": st.sampled_from(["setup", "billing", "other", "", "nope"]),
    "username": st.sampled_from(["alice", "bob", "root", "nobody"]),
    "password": st.sampled_from([PASSWORD, "wrong"]),
}


def _constraint(info: Any, name: str) -> Any:
    return next((getattr(m, name) for m in info.metadata if hasattr(m, name)), None)


def plausible_for(annotation: Any, info: Any = None, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value that satisfies the field's type and constraints (pattern, lengths, bounds)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return plausible_for(args[0], info, depth)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([plausible_for(a, info, depth) for a in args])
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    low = _constraint(info, "ge") if info is not None else None
    high = _constraint(info, "le") if info is not None else None
    if annotation is int:
        return st.integers(0 if low is None else low, 100 if high is None else high)
    if annotation is float:
        return st.floats(0 if low is None else low, 100 if high is None else min(high, 1e6))
    if annotation is str:
        pattern = _constraint(info, "pattern") if info is not None else None
        longest = (_constraint(info, "max_length") if info is not None else None) or 40
        shortest = (_constraint(info, "min_length") if info is not None else None) or 0
        if pattern:
            return st.from_regex(pattern, fullmatch=True).filter(
                lambda v: shortest <= len(v) <= longest
            )
        return st.text(min_size=shortest, max_size=min(longest, 40))
    if origin is list and args and depth < 3:
        return st.lists(plausible_for(args[0], None, depth + 1), min_size=1, max_size=4)
    if origin is dict and len(args) == 2 and depth < 3:
        keys = plausible_for(args[0], None, depth + 1).filter(lambda k: isinstance(k, str))
        return st.dictionaries(keys, plausible_for(args[1], None, depth + 1), max_size=3)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel) and depth < 3:
        return plausible_objects(annotation, depth + 1)
    return JSON_SCALARS


def plausible_objects(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy[Any]:
    """Objects a well-behaved client could send: every required field, some optional ones."""
    required, optional = {}, {}
    for name, info in model.model_fields.items():
        value = PLAUSIBLE_BY_NAME.get(name)
        if value is None:
            value = plausible_for(info.annotation, info, depth)
        (required if info.is_required() else optional)[name] = value
    return st.fixed_dictionaries(required, optional=optional)


def _break(payload: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    return {**payload, field: value}


def payloads_for(model: type[BaseModel], anything: st.SearchStrategy[Any]) -> Any:
    """A payload for an event or a body for a request: plausible objects, plausible objects
    with one field broken or unknown fields added, objects of anything, and not objects."""
    good = plausible_objects(model)
    extra = st.dictionaries(SHORT_TEXT, anything, min_size=1, max_size=3)
    options = [good, good, st.builds(lambda d, e: {**e, **d}, good, extra), objects_for(model)]
    if model.model_fields:
        broken = st.builds(
            _break, good, st.sampled_from(sorted(model.model_fields)), values_for(Any)
        )
        options += [broken, broken]
    return st.one_of(*options, anything)


# --------------------------------------------------------------------------- socket.io inputs

NAMESPACE_CLASSES = (CustomerNamespace, AgentNamespace)
BOGUS_EVENTS = ("connect", "disconnect", "on_sync", "sync ", "", "message", "__class__")


def payload_model(handler: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic model an ``@event(Model)`` handler validates with (its payload argument)."""
    fn = inspect.unwrap(handler)
    payload_arg = list(inspect.signature(fn).parameters)[3]  # (self, sid, who, payload)
    model = typing.get_type_hints(fn)[payload_arg]
    assert issubclass(model, BaseModel), handler
    return model


def socket_events() -> list[tuple[str, str, type[BaseModel]]]:
    """(namespace, event, payload model) of every event handler of both namespaces."""
    return [
        (f"/{cls.party}", name.removeprefix("on_"), payload_model(getattr(cls, name)))
        for cls in NAMESPACE_CLASSES
        for name in sorted(dir(cls))
        if name.startswith("on_") and name not in ("on_connect", "on_disconnect")
    ]


@dataclass(frozen=True, slots=True)
class Emit:
    namespace: str
    event: str
    sender: int  # which of the namespace's parties sends it
    args: tuple[Any, ...]  # () = no payload; two or more = extra arguments


def emits_for(namespace: str, event: str, payload: Any) -> st.SearchStrategy[Emit]:
    args = st.one_of(
        st.tuples(payload),
        st.tuples(payload),
        st.tuples(payload),
        st.just(()),
        st.tuples(payload, SOCKET_JSON),
    )
    return st.builds(Emit, st.just(namespace), st.just(event), st.integers(0, 7), args)


def emits() -> st.SearchStrategy[Emit]:
    real = [
        emits_for(ns, ev, payloads_for(model, SOCKET_JSON)) for ns, ev, model in socket_events()
    ]
    bogus = st.sampled_from([c.party for c in NAMESPACE_CLASSES]).flatmap(
        lambda party: st.sampled_from(BOGUS_EVENTS).flatmap(
            lambda event: emits_for(f"/{party}", event, SOCKET_JSON)
        )
    )
    return st.one_of(*real, bogus)


# --------------------------------------------------------------------------- SDP inputs

# Written for this test in the shape Chrome offers (one audio, one video, BUNDLE, no candidates
# yet); the identifiers and the fingerprint are made up.
CHROME_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 5193038467216550712 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS 3f0c6a52-95e1-4b8e-a1d7-7e2b9c4d1a60",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Hq3v",
        "a=ice-pwd:t8Yw2kQp5ZrN0sLb7xCv4mJd",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 4A:1F:9C:22:7E:B3:05:D8:61:AF:3C:90:E2:47:1B:6D:"
        "88:C5:0E:F4:29:7A:B1:5E:03:D6:92:4C:E8:17:A0:3B",
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=sendrecv",
        "a=msid:3f0c6a52-95e1-4b8e-a1d7-7e2b9c4d1a60 9d2e7b41-0c6f-4a83-b5e2-61f8a4c3d097",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "a=ssrc:2841130567 cname:pW7tKq2xVb9LmR4e",
        "a=ssrc:2841130567 msid:3f0c6a52-95e1-4b8e-a1d7-7e2b9c4d1a60 "
        "9d2e7b41-0c6f-4a83-b5e2-61f8a4c3d097",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 45 46",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Hq3v",
        "a=ice-pwd:t8Yw2kQp5ZrN0sLb7xCv4mJd",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 4A:1F:9C:22:7E:B3:05:D8:61:AF:3C:90:E2:47:1B:6D:"
        "88:C5:0E:F4:29:7A:B1:5E:03:D6:92:4C:E8:17:A0:3B",
        "a=setup:actpass",
        "a=mid:1",
        "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:13 urn:3gpp:video-orientation",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=sendrecv",
        "a=msid:3f0c6a52-95e1-4b8e-a1d7-7e2b9c4d1a60 c4a1e8f2-7b3d-4e96-8a05-d2f7b6e93c18",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 transport-cc",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:102 H264/90000",
        "a=rtcp-fb:102 goog-remb",
        "a=rtcp-fb:102 transport-cc",
        "a=rtcp-fb:102 ccm fir",
        "a=rtcp-fb:102 nack",
        "a=rtcp-fb:102 nack pli",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "a=rtpmap:103 rtx/90000",
        "a=fmtp:103 apt=102",
        "a=rtpmap:45 AV1/90000",
        "a=fmtp:45 level-idx=5;profile=0;tier=0",
        "a=rtpmap:46 rtx/90000",
        "a=fmtp:46 apt=45",
        "a=ssrc-group:FID 1172935418 3390287461",
        "a=ssrc:1172935418 cname:pW7tKq2xVb9LmR4e",
        "a=ssrc:1172935418 msid:3f0c6a52-95e1-4b8e-a1d7-7e2b9c4d1a60 "
        "c4a1e8f2-7b3d-4e96-8a05-d2f7b6e93c18",
        "a=ssrc:3390287461 cname:pW7tKq2xVb9LmR4e",
        "a=ssrc:3390287461 msid:3f0c6a52-95e1-4b8e-a1d7-7e2b9c4d1a60 "
        "c4a1e8f2-7b3d-4e96-8a05-d2f7b6e93c18",
        "",
    ]
)

INTERESTING_INTS = (
    st.sampled_from(
        [0, 1, -1, 9, 127, 128, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32, 2**63, 10**30]
    )
    | st.integers()
)
SDP_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(ODD_CHARS[:5]), max_size=40)
LATIN1 = st.binary(min_size=1, max_size=40).map(lambda b: b.decode("latin-1"))
SDP_LINES = st.sampled_from(
    [
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "m=audio 0 RTP/AVP 0",
        "m=",
        "a=candidate:1 1 udp 2122260223 127.0.0.1 9 typ host",
        "a=candidate:1 1 tcp 1 ::1 9 typ host tcptype passive",
        "a=end-of-candidates",
        "a=setup:active",
        "a=setup:passive",
        "a=fingerprint:sha-1 00",
        "a=fingerprint:md5 00:11",
        "a=ice-lite",
        "a=rtpmap:96 H265/90000",
        "a=fmtp:96 apt=96",
        "a=ssrc-group:FID",
        "a=group:BUNDLE",
        "a=mid:",
        "a=msid-semantic:",
        "a=inactive",
        "a=sctp-port:5000",
        "c=IN IP6 ::",
        "b=AS:4294967296",
        "t=-1 -1",
    ]
) | st.builds(lambda t: "a=" + t, SDP_TEXT)

SdpOp = tuple[Any, ...]
SDP_OPS: st.SearchStrategy[SdpOp] = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 200)),
    st.tuples(st.just("duplicate"), st.integers(0, 200)),
    st.tuples(st.just("swap"), st.integers(0, 200), st.integers(0, 200)),
    st.tuples(st.just("number"), st.integers(0, 200), st.integers(0, 8), INTERESTING_INTS),
    st.tuples(st.just("token"), st.integers(0, 200), st.integers(0, 8), SDP_TEXT | LATIN1),
    st.tuples(st.just("splice"), st.integers(0, 200), st.integers(0, 100), SDP_TEXT | LATIN1),
    st.tuples(st.just("insert"), st.integers(0, 200), SDP_LINES),
    st.tuples(st.just("replace"), st.integers(0, 200), SDP_LINES | SDP_TEXT),
    st.tuples(st.just("section"), st.integers(0, 200), st.integers(1, 4)),
    st.tuples(st.just("huge"), st.integers(0, 200), st.sampled_from([100, 4096, 33000])),
    st.tuples(st.just("truncate"), st.integers(0, 6000)),
    st.tuples(st.just("endings"), st.sampled_from(["\n", "\r", "\r\r\n", "\n\r", ""])),
)


def mutate(sdp: str, ops: list[SdpOp]) -> str:
    """``sdp`` with the mutations applied in order (line indexes wrap around)."""
    lines = sdp.split("\r\n")
    ending = "\r\n"
    cut: int | None = None
    for op in ops:
        kind, n = op[0], len(lines)
        at = op[1] % n if n and isinstance(op[1], int) else 0
        if kind == "drop" and n:
            del lines[at]
        elif kind == "duplicate" and n:
            lines.insert(at, lines[at])
        elif kind == "swap" and n:
            other = op[2] % n
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "number" and n:
            numbers = list(re.finditer(r"\d+", lines[at]))
            if numbers:
                m = numbers[op[2] % len(numbers)]
                lines[at] = lines[at][: m.start()] + str(op[3]) + lines[at][m.end() :]
        elif kind == "token" and n:
            tokens = lines[at].split(" ")
            tokens[op[2] % len(tokens)] = op[3]
            lines[at] = " ".join(tokens)
        elif kind == "splice" and n:
            pos = op[2] % (len(lines[at]) + 1)
            lines[at] = lines[at][:pos] + op[3] + lines[at][pos:]
        elif kind == "insert":
            lines.insert(at, op[2])
        elif kind == "replace" and n:
            lines[at] = op[2]
        elif kind == "section" and n:
            starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
            if starts:
                first = max([s for s in starts if s <= at] or starts[:1])
                end = min([s for s in starts if s > first] or [len(lines)])
                lines[end:end] = lines[first:end] * op[2]
        elif kind == "huge" and n:
            lines[at] = _repeat(lines[at] or "x", op[2])
        elif kind == "truncate":
            cut = op[1]
        elif kind == "endings":
            ending = op[1]
    text = ending.join(lines)
    return text if cut is None else text[:cut]


SDP_MUTATIONS = st.lists(SDP_OPS, min_size=1, max_size=5)


@dataclass(frozen=True, slots=True)
class Offer:
    base: int  # which real offer: 0 the in-process browser-like one, 1 the Chrome-shaped one
    ops: tuple[SdpOp, ...]
    party: str  # "customer" or "agent"
    burst: int = 1  # sent this many times at once (a connection's events run concurrently)


OFFERS = st.builds(
    Offer,
    st.integers(0, 1),
    SDP_MUTATIONS.map(tuple),
    st.sampled_from(["customer", "agent"]),
    st.sampled_from([1, 1, 2, 3]),
)


# --------------------------------------------------------------------------- REST inputs

BODY_MODELS: dict[str, type[BaseModel]] = {
    "POST /api/tickets": TapIn,
    "POST /api/login": LoginIn,
    "PUT /api/admin/queues/{queue_id}": QueueIn,
    "PUT /api/admin/topics/{topic}": TopicIn,
    "PUT /api/admin/agents/{user_id}": AgentIn,
}
PATH_VALUES = st.one_of(
    REFS,
    st.sampled_from(["general", "setup", "fz", "1", "2", "0", "..", "%", "%2F", "a/b", " "]),
    st.text(CHARS.filter(lambda c: not ("\ud800" <= c <= "\udfff")), max_size=80),
    # Long, but within aiohttp's 8190-byte request line (a longer one is refused by the HTTP
    # parser with a plain-text 400 before any of our code runs).
    st.builds(_repeat, st.sampled_from(["a", "9", "é"]), st.sampled_from([64, 65, 600])),
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "text/plain", "")


@dataclass(frozen=True, slots=True)
class Body:
    kind: str  # "none", "json", "raw", "image"
    value: Any = None
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Request:
    endpoint: str  # "METHOD /canonical/{path}"
    params: tuple[Any, ...]
    query: tuple[tuple[str, str], ...]
    who: str  # one of WHO
    body: Body


# Who sends a request: nobody, a forged session and token, the customer in the live call, another
# customer, an agent, the admin, and the admin's session from a foreign page (Origin).
WHO = ("admin", "anon", "customer", "agent", "other_customer", "garbage", "cross_site")


def _image_bodies() -> st.SearchStrategy[Body]:
    flips = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8)
    junk = st.builds(lambda b, m: m + b, st.binary(max_size=300), st.sampled_from(MAGICS))
    real = st.builds(lambda i, f: _flip(SAMPLE_IMAGES[i], f), st.integers(0, 1), flips)
    sizes = st.sampled_from([PHOTO_MAX - 1, PHOTO_MAX + 1])
    big = st.builds(lambda n: b"\x89PNG\r\n\x1a\n" + bytes(n), sizes)
    return st.builds(Body, st.just("image"), real | junk | big, st.sampled_from(IMAGE_TYPES))


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for at, value in flips:
        out[at % len(out)] = value
    return bytes(out)


def _encoded(ext: str, image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return bytes(data)


SAMPLE_IMAGES = (
    _encoded(".png", np.full((24, 32, 3), (20, 120, 220), dtype=np.uint8)),
    _encoded(".jpg", np.full((24, 32, 3), (220, 20, 20), dtype=np.uint8)),
)
MAGICS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"")
PHOTO_MAX = 64 * 1024  # the fuzzing server's photo_max_bytes: the too-large path stays cheap


def requests(endpoints: list[str]) -> st.SearchStrategy[Request]:
    def for_endpoint(endpoint: str) -> st.SearchStrategy[Request]:
        holes = re.findall(r"{(\w+)}", endpoint)
        model = BODY_MODELS.get(endpoint)
        shaped = [st.builds(Body, st.just("json"), payloads_for(model, JSON))] * 3 if model else []
        # Hypothesis leans towards the first choices: the well-formed bodies come first.
        bodies = st.one_of(
            *shaped,
            *([_image_bodies()] * 3 if endpoint.endswith("/photos") else []),
            st.just(Body("none")),
            st.builds(Body, st.just("json"), JSON),
            st.builds(
                Body,
                st.just("raw"),
                st.binary(max_size=200),
                st.sampled_from(
                    ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
                ),
            ),
            st.builds(Body, st.just("raw"), st.builds(bytes, st.sampled_from([65537, 70000]))),
        )
        return st.builds(
            Request,
            st.just(endpoint),
            st.tuples(*[PATH_VALUES for _ in holes]),
            st.lists(st.tuples(st.sampled_from(["sig", "x", ""]), SHORT_TEXT), max_size=2).map(
                tuple
            ),
            st.sampled_from(WHO),
            bodies,
        )

    return st.sampled_from(sorted(endpoints)).flatmap(for_endpoint)


# --------------------------------------------------------------------------- raw frames

# Frames a socket.io client library would never send: any packet type, namespace and ack id,
# any text after them (JSON or not, integers past python-engineio's 100 digits), binary frames.
JSON_TEXT = st.one_of(
    JSON.map(lambda v: json.dumps(v, allow_nan=True)),
    st.sampled_from(['["sync"', "{", "[" + "1" * 101 + "]", '["sync",' + "9" * 120 + "]", "[]"]),
    st.sampled_from(['{"_placeholder":true,"num":7}', '["sync",{"_placeholder":true,"num":0}]']),
    SHORT_TEXT,
)
TEXT_FRAMES = st.builds(
    lambda engine, kind, attachments, ns, ack, body: f"{engine}{kind}{attachments}{ns}{ack}{body}",
    st.sampled_from(["4", "4", "4", "2", "3", "5", "6", "9", ""]),
    st.sampled_from([str(n) for n in range(10)] + [""]),
    st.sampled_from(["", "", "1-", "2-", "99999999999-"]),
    st.sampled_from(["/customer,", "/customer,", "/agent,", "/nope,", "/customer", "/", ""]),
    st.sampled_from(["", "7", "12", "9" * 101]),
    JSON_TEXT,
)
FRAMES = st.lists(
    st.one_of(TEXT_FRAMES, st.binary(max_size=64), st.text(max_size=40)), min_size=1, max_size=4
)


LEAVING = re.compile(r"1|4[01](\d+-)?/customer")


class RawSocket:
    """An engine.io websocket spoken by hand, joined to /customer with a ticket token."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.probes = 0

    async def open(self) -> None:
        if self.ws is not None and not self.ws.closed:
            return
        url = self.world.h.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        for _ in range(3):
            self.ws = await self.world.http.ws_connect(url)
            assert (await self.ws.receive_str()).startswith("0")  # engine.io open
            ticket = (
                next(
                    (
                        t
                        for t in reversed(self.world.tapped)
                        if self.world.desk.ticket_state(t)
                        in (TicketState.QUEUED, TicketState.OFFERED)
                    ),
                    None,
                )
                or await self.world.tap()
            )
            token = json.dumps({"token": self.world.tokens[ticket]})
            await self.ws.send_str(f"40/customer,{token}")
            reply = await self.next_message()
            while reply is not None and reply.startswith("2/customer,"):  # an event first
                reply = await self.next_message()
            if reply is not None and reply.startswith("0/customer,"):
                return
            await self.ws.close()
            await self.world.tap()  # that ticket closed under us: use a fresh one
        raise Problem("could not join /customer over a raw websocket")

    async def next_message(self, timeout: float = 5.0) -> str | None:
        """The next socket.io message, answering engine.io pings; None once closed."""
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return None  # closed (or a binary frame, which the server never sends)
                if msg.data == "2":
                    await self.ws.send_str("3")
                elif msg.data.startswith("4"):
                    return str(msg.data[1:])
                elif msg.data == "1":
                    return None  # engine.io close

    async def send(self, frames: list[str | bytes]) -> str:
        """Send the frames, then a well-formed ``sync``: it must be answered, or the connection
        closed (for a frame the server could not accept). Returns which."""
        await self.open()
        assert self.ws is not None
        for frame in frames:
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)
        self.probes += 1
        probe = 100_000 + self.probes
        with contextlib.suppress(ConnectionResetError):
            await self.ws.send_str(f'42/customer,{probe}["sync"]')
        # The client leaving: an engine.io close ("1"; the server then drops the socket at the
        # ping timeout), a namespace disconnect ("41/customer") or a second connect ("40/customer",
        # refused without a token). Events sent after that go unanswered.
        left = any(isinstance(f, str) and LEAVING.match(f) for f in frames)
        try:
            while True:
                message = await self.next_message(timeout=1.0 if left else 5.0)
                if message is None:  # the server sends engine.io's close; we close the socket
                    await self.ws.close()
                    return "closed"
                if message.startswith(f"3/customer,{probe}["):
                    check_ack(json.loads(message.split(",", 1)[1][len(str(probe)) :])[0], "sync")
                    return "answered"
        except TimeoutError:
            if left:
                await self.ws.close()
                return "left"
            raise Problem(f"after {frames!r} the server neither answered nor closed") from None


# --------------------------------------------------------------------------- what must hold

# Every ack error code the gateway, the desk, the media hub, the call room and call content can
# send (docs/protocol.md lists most; the code is the truth). "internal" is not here: it means
# an unexpected exception.
ACK_CODES = frozenset(
    {
        "invalid",
        "unknown_event",
        "rate_limited",
        "forbidden",
        "not_found",
        "illegal_transition",
        "bad_request",
        "unavailable",
        "queue_full",
        "queue_closed",
        "active_ticket",
        "bad_offer",
        "bad_candidate",
        "media_busy",
        "no_session",
        "no_video",
        "encode_failed",
        "not_frozen",
        "conflict",  # recording: no question pending, not recording, not paused
        "not_supported",
        "duplicate",
        "too_many",
    }
)


class Problem(AssertionError):
    """Something the server must never do."""


def check_ack(reply: Any, where: str) -> str:
    """The reply's outcome ("ok" or the error code), or a Problem."""
    if not isinstance(reply, dict):
        raise Problem(f"{where}: the ack is not an object: {reply!r}")
    if reply.get("ok") is True and "error" not in reply:
        return "ok"
    error = reply.get("error")
    if (
        "ok" in reply
        or not isinstance(error, dict)
        or not isinstance(error.get("code"), str)
        or not isinstance(error.get("message"), str)
    ):
        raise Problem(f"{where}: malformed ack {reply!r}")
    if error["code"] not in ACK_CODES:
        raise Problem(f"{where}: error code {error['code']!r}: {error['message']}")
    return str(error["code"])


# The spec's per-operation statuses are the contract. Besides them, any /api/ path may answer
# 404/405 (unknown path, wrong method; openapi.yaml says so in its description). These are
# answered by the code but missing from docs/openapi.yaml (listed so that the gap stays visible).
UNDOCUMENTED = {
    "POST /api/tickets": {403, 409, 429},  # bad_origin, active_ticket, rate_limited
    "POST /api/login": {403, 429},  # bad_origin, rate_limited
    "POST /api/logout": {403},  # bad_origin
}


def documented_statuses() -> dict[str, set[int]]:
    with (ROOT / "docs" / "openapi.yaml").open(encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    return {
        f"{method.upper()} {path}": {int(code) for code in op["responses"] if code.isdigit()}
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }


def check_response(
    endpoint: str, documented: dict[str, set[int]], status: int, ctype: str, body: bytes
) -> None:
    path = endpoint.split(" ", 1)[1]
    if status >= 500 and not (status == 503 and status in documented.get(endpoint, ())):
        raise Problem(f"{endpoint}: {status} {body[:300]!r}")
    if endpoint in documented:
        allowed = documented[endpoint] | UNDOCUMENTED.get(endpoint, set())
        if path.startswith("/api/"):
            allowed |= {404, 405}
        if status not in allowed:
            raise Problem(f"{endpoint}: status {status} is not documented: {body[:300]!r}")
    if not path.startswith("/api/") or status == 204:
        return
    if status < 400 and ctype == "image/jpeg":
        return  # a still or a photo
    if ctype != "application/json":
        raise Problem(f"{endpoint}: {status} with a {ctype!r} body: {body[:300]!r}")
    data = json.loads(body)
    if status >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        if not (
            isinstance(error, dict)
            and isinstance(error.get("code"), str)
            and isinstance(error.get("message"), str)
        ):
            raise Problem(f"{endpoint}: {status} without an error object: {data!r}")


class ErrorLog(logging.Handler):
    """Every record at ERROR or above, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def describe(self, start: int = 0) -> str:
        return "\n".join(
            f"{r.name}: {r.getMessage()}"
            + (f"\n{logging.Formatter().formatException(r.exc_info)}" if r.exc_info else "")
            for r in self.records[start:]
        )

    @contextlib.contextmanager
    def none_new(self, context: str = "") -> Iterator[None]:
        """Raise ``Problem`` (``context`` first) if the block logs anything at ERROR."""
        seen = len(self.records)
        yield
        if len(self.records) > seen:
            raise Problem(context + self.describe(seen))


@contextlib.contextmanager
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# --------------------------------------------------------------------------- the world


def fuzz_settings(data_dir: Path, **overrides: Any) -> Any:
    """A server tuned for fuzzing: no rate limit in the way, media that waits for ICE instead
    of failing the call under us, small photos, and a short wait for a party who dropped out of
    a call (the drops and returns are fuzzed; the wind-down waits for every call to end)."""
    base: dict[str, Any] = {
        "socket_events_per_second": 1e6,
        "socket_events_burst": 1_000_000,
        "taps_per_minute": 1e6,
        "taps_burst": 1_000_000,
        "media_connect_timeout": 3600.0,
        "photo_max_bytes": PHOTO_MAX,
        "call_resume_window": 2.0,
    }
    return settings_for(data_dir, **(base | overrides))


ACK_TIMEOUT = 10.0


@dataclass
class Client:
    party: Party
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    ticket_id: str | None = None

    @property
    def connected(self) -> bool:
        return self.party.client.connected and not self.gone.is_set()


@dataclass
class Tally:
    inputs: Counter[str] = field(default_factory=Counter)  # what was tried
    outcomes: Counter[str] = field(default_factory=Counter)  # how it was answered


class World:
    """One running server and the clients that fuzz it: agent A (kept in a live call), agent B,
    the customer in A's call and a customer waiting, plus every id the server handed out."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.agents: dict[str, Client] = {}
        self.cookies: dict[str, str] = {}
        self.customers: dict[str, Client] = {}  # ticket id -> its connection
        self.tokens: dict[str, str] = {}
        self.tapped: list[str] = []
        self.terminal: dict[str, Any] = {}  # for check_invariants
        self.agent_ids: dict[str, str] = {}
        self.offers: list[str] = []
        self.answered: dict[tuple[str, str], bool] = {}  # (call, party) -> last offer answered
        self.tally = Tally()
        self.http = aiohttp.ClientSession(harness.url, cookie_jar=aiohttp.DummyCookieJar())
        self.max_message = harness.settings.socket_max_message

    @property
    def desk(self) -> Any:
        return self.h.service.desk

    async def start(self) -> None:
        self.offers = [await offer_without_candidates(), CHROME_OFFER]
        digest = hash_password(PASSWORD)
        for name, role in (("alice", "agent"), ("bob", "agent"), ("root", "admin")):
            await self.h.records.add_user(name, name.title(), digest, role, time.time())
            self.cookies[name] = await self.h.login(name, PASSWORD)
            row = await self.h.records.user_by_name(name)
            self.agent_ids[name] = agent_id_of(row["id"])
        for name in ("alice", "bob"):
            self.agents[name] = await self._connect("/agent", cookie=self.cookies[name])
        await self.ensure()

    async def close(self) -> None:
        for client in [*self.agents.values(), *self.customers.values()]:
            if client.party.client.connected:
                await client.party.client.disconnect()
        await self.http.close()

    async def _connect(
        self, namespace: str, *, cookie: str | None = None, token: str | None = None
    ) -> Client:
        client = socketio.AsyncClient(reconnection=False)
        party = Party(client, namespace)
        entry = Client(party)
        client.on("disconnect", lambda *_: entry.gone.set(), namespace=namespace)
        await connect_socket(client, self.h.url, namespace, cookie=cookie, token=token)
        return entry

    async def tap(self) -> str:
        ticket = await self.h.tap()
        ticket_id = ticket["ticket_id"]
        self.tapped.append(ticket_id)
        self.tokens[ticket_id] = ticket["token"]
        client = await self._connect("/customer", token=ticket["token"])
        client.ticket_id = ticket_id
        self.customers[ticket_id] = client
        return ticket_id

    async def adopt(self, ticket_id: str, token: str) -> None:
        """A ticket the REST fuzzer opened: its customer connects like any other."""
        self.tapped.append(ticket_id)
        self.tokens[ticket_id] = token
        client = await self._connect("/customer", token=token)
        client.ticket_id = ticket_id
        self.customers[ticket_id] = client

    # ids

    def live_ids(self) -> list[str]:
        desk = self.desk
        ids = [*desk.tickets, *desk.sessions, *self.agent_ids.values(), *desk.config.queues]
        ids += [s.call_id for s in desk.sessions.values()]
        return ids

    def own_ids(self, client: Client | None) -> list[str]:
        """The ids the sender may name: its call or session, its ticket, its ringing offer."""
        desk = self.desk
        if client is None:
            return []
        if client.ticket_id is not None:
            ticket = desk.tickets.get(client.ticket_id)
            return [i for i in (ticket and ticket.call_id, client.ticket_id) if i]
        name = next((n for n, c in self.agents.items() if c is client), None)
        agent = desk.agents.get(self.agent_ids.get(name or "", ""))
        return [i for i in (agent and agent.session_id, agent and agent.ticket_id) if i]

    def pick(self, ref: Ref, mine: list[str]) -> str:
        """A third of the time the sender's own id, else an id the server knows now or knew."""
        choice, index = ref.pick % 3, ref.pick // 3
        if choice == 0 and mine:
            return mine[index % len(mine)]
        ids = self.live_ids() if choice == 1 else self.tapped + self.live_ids()
        return ids[index % len(ids)] if ids else "none"

    def resolve(self, value: Any, sender: Client | None = None) -> Any:
        return self._resolve(value, self.own_ids(sender))

    def _resolve(self, value: Any, mine: list[str]) -> Any:
        if isinstance(value, Ref):
            return self.pick(value, mine)
        if isinstance(value, RealOffer):
            return self.offers[0]
        if isinstance(value, dict):
            return {k: self._resolve(v, mine) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._resolve(v, mine) for v in value)
        return value

    # keeping A in a call

    async def ensure(self) -> None:
        """Bring the world back to: A and B connected, A in a live call with a connected
        customer, and one more customer connected and waiting."""
        for name in ("alice", "bob"):
            if not self.agents[name].connected:
                self.agents[name] = await self._connect("/agent", cookie=self.cookies[name])
        for ticket_id, client in list(self.customers.items()):
            state = self.desk.ticket_state(ticket_id)
            if state is None or state.value in ("cancelled", "abandoned", "ended"):
                if client.party.client.connected:
                    await client.party.client.disconnect()
                del self.customers[ticket_id]
            elif not client.connected and state is not TicketState.LIVE:
                token = self.tokens[ticket_id]
                self.customers[ticket_id] = await self._connect("/customer", token=token)
                self.customers[ticket_id].ticket_id = ticket_id
        alice, bob = self.agents["alice"].party, self.agents["bob"].party
        alice_id = self.agent_ids["alice"]
        for _ in range(20):
            agent = self.desk.agents.get(alice_id)
            state = agent.state if agent else AgentState.OFFLINE
            if state is AgentState.BUSY:
                client = self.customers.get(agent.ticket_id)
                if client is not None and client.connected:
                    break
                await alice.call("hangup", {"session_id": agent.session_id})
            elif state is AgentState.WRAP_UP:
                await alice.call(
                    "wrap_up", {"session_id": agent.session_id, "disposition": "resolved"}
                )
            elif state is AgentState.AWAY:
                await alice.call("ready")
            elif state is AgentState.OFFERED:
                await alice.call("accept", {"ticket_id": agent.ticket_id})
            elif state is AgentState.READY:
                if self.desk.agent_state(self.agent_ids["bob"]) is AgentState.READY:
                    await bob.call("away")
                await self.tap()
                with contextlib.suppress(AssertionError):
                    await wait_until(
                        lambda: self.desk.agent_state(alice_id) is not AgentState.READY,
                        timeout=1.0,
                    )
            else:  # signed out: the console's socket was closed
                self.agents["alice"] = await self._connect("/agent", cookie=self.cookies["alice"])
                alice = self.agents["alice"].party
            await asyncio.sleep(0)
        else:
            raise Problem(f"could not put A in a call again: {self.desk.dump()}")
        waiting = [
            t
            for t, c in self.customers.items()
            if c.connected
            and self.desk.ticket_state(t) in (TicketState.QUEUED, TicketState.OFFERED)
        ]
        if not waiting:
            await self.tap()

    def check_desk(self) -> None:
        check_invariants(
            types.SimpleNamespace(desk=self.desk, tapped=self.tapped, terminal=self.terminal)
        )

    # sending

    def _message_size(self, namespace: str, event: str, args: tuple[Any, ...]) -> int:
        """Bytes of the largest websocket message this emit becomes (what the cap applies to)."""
        pkt = packet.Packet(packet.EVENT, namespace=namespace, data=[event, *args], id=1)
        encoded = pkt.encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        return max(len(p) + 1 for p in parts)  # + the engine.io message type

    async def emit(self, client: Client, event: str, args: tuple[Any, ...]) -> str:
        """Send one event; the outcome ("ok", an error code, or "closed" when the message was
        over the cap and the server closed the connection), or a Problem."""
        party = client.party
        size = self._message_size(party.namespace, event, args)
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[tuple[Any, ...]] = loop.create_future()

        def on_ack(*data: Any) -> None:
            if not acked.done():
                acked.set_result(data)

        where = f"{party.namespace} {event} ({size} bytes)"
        data: Any = None if not args else args[0] if len(args) == 1 else args
        await party.client.emit(event, data, namespace=party.namespace, callback=on_ack)
        gone = asyncio.ensure_future(client.gone.wait())
        try:
            await asyncio.wait({acked, gone}, timeout=ACK_TIMEOUT, return_when="FIRST_COMPLETED")
        finally:
            gone.cancel()
        near = abs(size - self.max_message) < 64
        # Over the cap, or undecodable (python-engineio refuses integers of over 100 digits):
        # the server closes the connection instead of answering.
        refused = size > self.max_message or _long_int(args)
        if acked.done():
            if refused and not near:
                raise Problem(f"{where}: answered although over the cap or undecodable")
            reply = acked.result()
            return check_ack(reply[0] if len(reply) == 1 else reply, where)
        if client.gone.is_set():
            if not refused and not near:
                raise Problem(f"{where}: the server closed the connection")
            return "closed"
        raise Problem(f"{where}: no ack within {ACK_TIMEOUT} s")

    def sender(self, emit: Emit) -> Client:
        if emit.namespace == "/agent":
            return self.agents["alice" if emit.sender % 2 == 0 else "bob"]
        alice = self.desk.agents.get(self.agent_ids["alice"])
        live = alice.ticket_id if alice and alice.state is AgentState.BUSY else None
        others = [t for t in self.customers if t != live]
        if emit.sender % 2 == 0 and live in self.customers:
            return self.customers[live]
        return self.customers[others[emit.sender % len(others)] if others else live]

    async def fuzz_events(self, batch: list[Emit], together: bool = False) -> None:
        """Send the batch one event after the other, or (``together``) all at once, as a
        client that does not wait for acks would; messages the server will refuse by closing
        the connection are then sent afterwards, so that they do not cut the others off."""
        await self.ensure()
        if together:
            prepared = [(e, c) for e in batch if (c := self.sender(e)).connected]
            sends = [(e, c, self.resolve(e.args, c)) for e, c in prepared]
            later = [x for x in sends if self._refused(x[1], x[0].event, x[2])]
            now = [x for x in sends if x not in later]
            outcomes = await asyncio.gather(*(self._send(*x) for x in now))
            for outcome in outcomes:
                self.tally.outcomes[outcome] += 1
            batch = [e for e, _, _ in later]
        for emit in batch:
            client = self.sender(emit)
            if not client.connected:
                await self.ensure()
                client = self.sender(emit)
            if not client.connected:  # a customer whose call just ended under them
                self.tally.outcomes["skipped"] += 1
                continue
            outcome = await self._send(emit, client, self.resolve(emit.args, client))
            self.tally.outcomes[outcome] += 1

    async def _send(self, emit: Emit, client: Client, args: tuple[Any, ...]) -> str:
        self.tally.inputs[f"{emit.namespace} {emit.event}"] += 1
        return await self.emit(client, emit.event, args)

    def _refused(self, client: Client, event: str, args: tuple[Any, ...]) -> bool:
        size = self._message_size(client.party.namespace, event, args)
        return size > self.max_message - 64 or _long_int(args)

    # SDP

    async def fuzz_offer(self, offer: Offer) -> None:
        """Send one mutated offer into A's live call. An answered offer leaves the participant
        with a peer connection; a refused one adds none (the participant keeps the answered
        connection it had, or none if aiortc got as far as replacing it)."""
        await self.ensure()
        alice_id = self.agent_ids["alice"]
        agent = self.desk.agents[alice_id]
        session_id = agent.session_id
        call_id = self.desk.sessions[session_id].call_id
        participant = self.h.hub.sessions[call_id].participants[offer.party]
        before = participant.pc
        sdp = mutate(self.offers[offer.base], list(offer.ops))
        if offer.party == "agent":
            client, named = self.agents["alice"], session_id
        else:
            client, named = self.customers[agent.ticket_id], call_id
        self.tally.inputs["rtc_offer"] += offer.burst
        args = ({"session_id": named, "type": "offer", "sdp": sdp},)
        outcomes = await asyncio.gather(
            *(self.emit(client, "rtc_offer", args) for _ in range(offer.burst))
        )
        self.tally.outcomes.update(outcomes)
        live = call_id in self.h.hub.sessions and self.desk.live_call("agent", alice_id)
        after = participant.pc
        # Of offers sent together, any may be handled last: only the counts are checked then.
        outcome = outcomes[0] if len(set(outcomes)) == 1 else "mixed"
        if outcome == "mixed":
            pass
        elif outcome == "ok":
            if live and after is None:
                raise Problem("an answered offer left no peer connection")
        elif outcome == "invalid" and 10 <= len(sdp) <= 32768 and _utf8(sdp):
            raise Problem(f"a {len(sdp)}-character offer was refused as invalid")
        elif outcome not in ("invalid", "bad_offer", "closed", "no_session", "forbidden"):
            raise Problem(f"an offer was answered with {outcome!r}")
        elif outcome in ("no_session", "forbidden") and live:
            raise Problem(f"an offer in a live call was answered with {outcome!r}")
        elif after is not None and after is not before and offer.burst == 1:
            raise Problem(f"a refused offer ({outcome}) left a new peer connection behind")
        self.answered[(call_id, offer.party)] = after is not None
        await self.settle_media()

    def answered_now(self) -> int:
        """Participants of the live calls whose last offer was answered."""
        sessions = self.h.hub.sessions
        return sum(ok for (call, _), ok in self.answered.items() if call in sessions)

    async def settle_media(self) -> None:
        """The hub's count of peer connections is the number of participants that have one
        (once sessions being closed in the background are gone)."""

        def held() -> int:
            return sum(
                p.pc is not None
                for s in self.h.hub.sessions.values()
                for p in s.participants.values()
            )

        def settled() -> bool:
            count = self.h.hub.peer_connections
            return count == held() and (not self.answered or count == self.answered_now())

        try:
            await wait_until(settled, timeout=5.0)
        except AssertionError:
            raise Problem(
                f"{self.h.hub.peer_connections} peer connections counted, {held()} held, "
                f"{self.answered_now()} offers answered"
            ) from None

    # REST

    async def fuzz_request(self, req: Request, documented: dict[str, set[int]]) -> None:
        method, canonical = req.endpoint.split(" ", 1)
        alice = self.desk.agents.get(self.agent_ids["alice"])
        live = alice.ticket_id if alice and alice.state is AgentState.BUSY else None
        other = next((t for t in self.tokens if t != live), live)
        ticket = {"customer": live, "other_customer": other}.get(req.who)
        sender = self.customers.get(ticket) if ticket else None  # whose ids Ref(...) favours
        values = iter(req.params)
        path = re.sub(
            r"{\w+}",
            lambda _: _segment(
                quote(
                    str(self.resolve(next(values), sender)).encode("utf-8", "surrogatepass"),
                    safe="",
                )
            ),
            canonical,
        )
        headers: dict[str, str] = {}
        if ticket is not None:
            headers["Authorization"] = f"Bearer {self.tokens[ticket]}"
        elif req.who == "garbage":
            headers["Authorization"] = "Bearer x.y.z"
            headers["Cookie"] = "va_session=" + "A" * 200
        # Logging out with the fuzzer's own sessions would end them; any other cookie will do.
        if req.who in ("agent", "admin", "cross_site") and req.endpoint != "POST /api/logout":
            name = "alice" if req.who == "agent" else "root"
            headers["Cookie"] = f"va_session={self.cookies[name]}"
        if req.who == "cross_site":
            headers["Origin"] = "https://evil.example"
        options: dict[str, Any] = {"headers": headers, "params": list(req.query)}
        body = req.body
        if body.kind == "json":
            options["data"] = json.dumps(self.resolve(body.value, sender)).encode(
                "utf-8", "surrogatepass"
            )
            headers["Content-Type"] = "application/json"
        elif body.kind in ("raw", "image"):
            options["data"] = body.value
            headers["Content-Type"] = body.content_type
        self.tally.inputs[req.endpoint] += 1
        async with self.http.request(method, path, **options) as r:
            data = await r.read()
            status, ctype = r.status, r.content_type
        self.tally.outcomes[f"{req.endpoint} {status}"] += 1
        check_response(req.endpoint, documented, status, ctype, data)
        if req.endpoint == "POST /api/tickets" and status == 201:
            created = json.loads(data)
            await self.adopt(created["ticket_id"], created["token"])


def _long_int(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return len(str(value)) > 100
    if isinstance(value, dict):
        return any(_long_int(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_long_int(v) for v in value)
    return False


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- running


async def run_examples(
    run: Callable[[Any], Any],
    strategy: st.SearchStrategy[Any],
    *,
    seed: int | None = None,
    **options: Any,
) -> None:
    """Run ``run(example)`` on this loop for each example Hypothesis draws from ``strategy``.
    Hypothesis runs in a worker thread, so that the examples share one running server."""
    loop = asyncio.get_running_loop()

    options.setdefault("phases", (Phase.explicit, Phase.generate))  # shrinking: minutes
    options.setdefault("derandomize", True)  # the same inputs every run: failures reproduce

    @settings(
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        **options,
    )
    @given(strategy)
    def one(example: Any) -> None:
        asyncio.run_coroutine_threadsafe(run(example), loop).result(timeout=120)

    await asyncio.to_thread(one if seed is None else hypothesis_seed(seed)(one))


async def wind_down(world: World, baseline_tasks: int) -> None:
    """Every client gone: the calls end, their media closes, and no task is left over."""
    await world.close()
    hub = world.h.hub
    await wait_until(lambda: not hub.sessions and hub.peer_connections == 0, timeout=20.0)

    def leftover() -> list[asyncio.Task[Any]]:
        return [t for t in asyncio.all_tasks() if not t.done()]

    try:
        await wait_until(lambda: len(leftover()) <= baseline_tasks, timeout=20.0)
    except AssertionError:
        names = sorted(f"{t.get_name()} {t.get_coro()!r}" for t in leftover())
        raise Problem(f"{len(names)} tasks left, {baseline_tasks} before: {names}") from None
    gc.collect()  # "Task exception was never retrieved" is logged when the task is collected


async def server_tasks(harness: Harness) -> int:
    """The tasks a server that has served a little has for its whole life (the harness's
    keep-alive HTTP connection, the engine.io service task): the count a finished run must come
    back to."""
    assert harness.http is not None
    async with harness.http.get("/healthz") as r:
        assert r.status == 200
    probe = socketio.AsyncClient(reconnection=False)
    with contextlib.suppress(socketio.exceptions.ConnectionError):
        await probe.connect(harness.url, namespaces=["/customer"], transports=["websocket"])
    await probe.disconnect()
    await asyncio.sleep(0.1)
    return len(asyncio.all_tasks())


@contextlib.asynccontextmanager
async def fuzzing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, **overrides: Any
) -> AsyncIterator[tuple[World, ErrorLog]]:
    """A running server, its world of clients, and the error log; then every leak check, and
    nothing at ERROR in the error log or in pytest's ``caplog``."""
    caplog.set_level(logging.ERROR)
    harness = Harness(fuzz_settings(tmp_path, **overrides))
    with error_log() as errors:
        await harness.start()
        baseline = await server_tasks(harness)
        world = World(harness)
        try:
            await world.start()
            yield world, errors
            world.check_desk()
            await wind_down(world, baseline)
        finally:
            await world.close()
            await harness.stop()
        assert not errors.records, errors.describe()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def rest_endpoints(harness: Harness) -> set[str]:
    skip = ("/socket.io/", "/static/", "/vendor/", "/testing")
    return {
        f"{route.method} {route.resource.canonical}"
        for route in harness.app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not route.resource.canonical.startswith(skip)
    }


def _segment(quoted: str) -> str:
    """A path parameter as sent. The client (yarl) resolves a "." or ".." segment before
    sending, even percent-encoded (RFC 3986 dot segments), so the request would reach another
    endpoint than the one being fuzzed and be judged by the wrong document entry. Such a value
    gets a character more: still a dotted name, and still this endpoint's."""
    return quoted + "x" if quoted in (".", "..") else quoted
