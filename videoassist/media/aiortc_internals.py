"""Every use of aiortc's private parts, in one place.

aiortc (pinned to 1.16.0 in pyproject.toml) has no public API for encoded forwarding: its
receiver always decodes and its sender only re-packetizes what it is given. The hooks below are
what the forwarding plane (videoassist.media.forwarding) needs; each names the aiortc 1.16.0
code it relies on. tests/unit/test_aiortc_internals.py has one test per hook, named after the
internal it relies on, so an upgrade that moves any of them fails loudly there first.

Nothing else in videoassist touches an underscored aiortc name.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Any, Protocol

from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpSrPacket, unpack_remb_fci

logger = logging.getLogger(__name__)

AIORTC_VERSION = "1.16.0"

# aiortc 1.16.0, rtcrtpreceiver.py, RTCRtpReceiver.__init__: the jitter buffer is a name-mangled
# private attribute; ``_handle_rtp_packet`` calls ``self.__jitter_buffer.add(packet)`` on the
# event loop for every RTP packet, after SRTP, RTX unwrapping, NACK generation and REMB, with
# ``packet._data`` already depayloaded, and expects ``(pli_flag, encoded_frame_or_None)``.
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
# aiortc 1.16.0, rtcrtpreceiver.py: ``receive()`` starts the decoder thread with this queue and
# ``_handle_rtp_packet`` puts ``(codec, frame)`` on it for every frame the jitter buffer returns.
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
# aiortc 1.16.0, rtcrtpreceiver.py: a video receiver's ``RemoteBitrateEstimator``; for every
# RTP packet with an abs-send-time extension ``_handle_rtp_packet`` calls its
# ``add(abs_send_time=, arrival_time_ms=, payload_size=, ssrc=)`` and sends the REMB it returns,
# ``(bitrate, ssrcs)`` or None, upstream as RTCP (about once a second).
_BITRATE_ESTIMATOR = "_RTCRtpReceiver__remote_bitrate_estimator"
# aiortc 1.16.0, rtcrtpreceiver.py: payload type -> RTCRtpCodecParameters, filled by
# ``receive()`` (after the "track" event) and read by ``_handle_rtp_packet``.
_RECEIVER_CODECS = "_RTCRtpReceiver__codecs"


class JitterBufferStandIn(Protocol):
    """What aiortc 1.16.0's ``_handle_rtp_packet`` needs of its jitter buffer."""

    def add(self, packet: Any) -> tuple[bool, None]: ...


class CountingQueue(queue.Queue[Any]):
    """The receiver's decoder queue, counting the frames aiortc would decode (``None`` is its
    stop marker, not a frame). With a tap installed the count must stay 0."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            self.frames += 1
        super().put(item, block, timeout)


def install_tap(receiver: RTCRtpReceiver, tap: JitterBufferStandIn) -> CountingQueue:
    """Make ``tap`` the receiver's jitter buffer; returns the counting decoder queue.

    Must run before ``receive()`` starts the decoder thread (that is, in the peer connection's
    "track" event, which aiortc 1.16.0 emits from ``setRemoteDescription``)."""
    if not hasattr(receiver, _JITTER_BUFFER) or not hasattr(receiver, _DECODER_QUEUE):
        raise RuntimeError(
            f"aiortc {AIORTC_VERSION} internals changed: RTCRtpReceiver has no private "
            "jitter buffer or decoder queue to replace; encoded forwarding cannot work"
        )
    if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
        raise RuntimeError("the receiver's decoder thread already runs; install the tap earlier")
    setattr(receiver, _JITTER_BUFFER, tap)
    counting = CountingQueue()
    setattr(receiver, _DECODER_QUEUE, counting)
    return counting


def receiver_codecs(receiver: RTCRtpReceiver) -> dict[int, Any]:
    """The receiver's own payload type → codec map (the same dict, filled later by receive())."""
    codecs = getattr(receiver, _RECEIVER_CODECS, None)
    if not isinstance(codecs, dict):
        raise RuntimeError(f"aiortc {AIORTC_VERSION} internals changed: no receiver codec map")
    return codecs


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the source for a keyframe.

    aiortc 1.16.0, rtcrtpreceiver.py, ``_send_rtcp_pli(media_ssrc)``: sends an RTCP PLI (RFC
    4585) from the receiver's RTCP SSRC; does nothing before the receiver has one."""
    await receiver._send_rtcp_pli(media_ssrc)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` when the consumer behind ``sender`` sends a PLI or FIR.

    aiortc 1.16.0, rtcrtpsender.py, ``_handle_rtcp_packet`` calls ``self._send_keyframe()`` for
    both; the original only sets a flag for its encoder, which an ``av.Packet`` never meets.
    The instance attribute shadows the method."""
    if not callable(getattr(type(sender), "_send_keyframe", None)):
        raise RuntimeError(f"aiortc {AIORTC_VERSION} internals changed: no _send_keyframe")
    original = sender._send_keyframe

    def requested() -> None:
        original()  # keeps the transcode fallback's encoder honest
        callback()

    sender._send_keyframe = requested  # type: ignore[method-assign]


def sender_codec(transceiver: RTCRtpTransceiver) -> str | None:
    """The codec the sender will send with: the first negotiated one.

    aiortc 1.16.0: ``setRemoteDescription`` stores the negotiated codecs in the transceiver's
    ``_codecs``, and ``RTCRtpSender.send`` packs with ``parameters.codecs[0]``."""
    codecs = getattr(transceiver, "_codecs", None)
    if codecs is None:
        raise RuntimeError(f"aiortc {AIORTC_VERSION} internals changed: no transceiver _codecs")
    return codecs[0].name if codecs else None


def on_sender_report(receiver: RTCRtpReceiver, callback: Callable[[int, int, int], None]) -> None:
    """Call ``callback(ssrc, ntp_timestamp, rtp_timestamp)`` for every RTCP sender report the
    receiver gets (the media clock's lip-sync anchor).

    aiortc 1.16.0, rtcrtpreceiver.py, ``_handle_rtcp_packet(packet)``: the DTLS transport's RTP
    router hands it each ``RtcpSrPacket`` whose SSRC the receiver owns; aiortc keeps only the
    LSR field (for its receiver reports) and drops the (NTP, RTP) pair we need. The transport
    calls ``recipient._handle_rtcp_packet``: the instance attribute shadows the method."""
    if not callable(getattr(type(receiver), "_handle_rtcp_packet", None)):
        raise RuntimeError(f"aiortc {AIORTC_VERSION} internals changed: no _handle_rtcp_packet")
    original = receiver._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        await original(packet)
        if isinstance(packet, RtcpSrPacket):
            try:
                info = packet.sender_info
                callback(packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)
            except Exception:  # a listener's bug must not break aiortc's RTCP handling
                logger.exception("on_sender_report: listener failed")

    receiver._handle_rtcp_packet = handle  # type: ignore[method-assign]


def rebundle(pc: Any) -> int:
    """Put every transceiver of a BUNDLE group on the group's transport; returns how many moved.

    aiortc 1.16.0, rtcpeerconnection.py: with the default BALANCED bundle policy,
    ``__createTransceiver`` gives a second transceiver of a kind the transport of the first one
    of that kind and marks it ``_bundled``. ``setRemoteDescription`` then moves the transceivers
    of the offer's BUNDLE group onto the primary transport, but skips those already ``_bundled``:
    a second audio or video transceiver stays on a transport that is never gathered nor started
    (``__connect`` needs local candidates), so its sender never sends. Call after
    ``setRemoteDescription``; ``setTransport`` is public on both sender and receiver.
    """
    description = pc.remoteDescription
    if description is None:
        return 0
    from aiortc.sdp import SessionDescription

    parsed = SessionDescription.parse(description.sdp)
    bundle = next((g for g in parsed.group if g.semantic == "BUNDLE"), None)
    if bundle is None or not bundle.items:
        return 0
    transceivers = pc.getTransceivers()
    primary = next((t for t in transceivers if t.mid == bundle.items[0]), None)
    if primary is None:
        return 0
    transport = primary.receiver.transport
    moved = 0
    for transceiver in transceivers:
        if transceiver.mid in bundle.items and transceiver.receiver.transport is not transport:
            transceiver.receiver.setTransport(transport)
            transceiver.sender.setTransport(transport)
            moved += 1
    return moved


def on_bandwidth_estimate(sender: RTCRtpSender, callback: Callable[[int], None]) -> None:
    """Call ``callback(bits_per_second)`` for every REMB the consumer behind ``sender`` sends
    about it.

    aiortc 1.16.0: the DTLS transport's RTP router hands a REMB (an ``RtcpPsfbPacket`` with
    ``fmt`` ``RTCP_PSFB_APP``, SSRCs in its FCI) to the ``_handle_rtcp_packet`` of each sender
    it names; aiortc only sets its encoder's ``target_bitrate`` from it, which a sender fed
    ``av.Packet`` never uses. The instance attribute shadows the method."""
    if not callable(getattr(type(sender), "_handle_rtcp_packet", None)):
        raise RuntimeError(f"aiortc {AIORTC_VERSION} internals changed: no _handle_rtcp_packet")
    original = sender._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        await original(packet)
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            if sender._ssrc in ssrcs:
                try:
                    callback(bitrate)
                except Exception:  # a listener's bug must not break aiortc's RTCP handling
                    logger.exception("on_bandwidth_estimate: listener failed")

    sender._handle_rtcp_packet = handle  # type: ignore[method-assign]


class _CappedEstimator:
    """aiortc's estimator, with what it reports capped (see ``cap_bandwidth_estimate``)."""

    def __init__(self, inner: Any, cap: Callable[[], int | None]) -> None:
        self.inner = inner
        self.cap = cap

    def add(self, **kwargs: Any) -> tuple[int, list[int]] | None:
        remb = self.inner.add(**kwargs)
        if remb is None:
            return None
        bitrate, ssrcs = remb
        try:
            limit = self.cap()
        except Exception:  # never break aiortc's receive path
            logger.exception("cap_bandwidth_estimate: cap failed")
            limit = None
        return (bitrate if limit is None else min(bitrate, limit)), ssrcs


def cap_bandwidth_estimate(receiver: RTCRtpReceiver, cap: Callable[[], int | None]) -> bool:
    """Make the REMB the receiver sends its source no higher than ``cap()`` (None: no cap);
    False for a receiver without an estimator (audio).

    aiortc 1.16.0, rtcrtpreceiver.py: ``__remote_bitrate_estimator`` (see above) estimates the
    source→server link only; forwarded media also crosses each consumer's link."""
    if not hasattr(receiver, _BITRATE_ESTIMATOR):
        raise RuntimeError(
            f"aiortc {AIORTC_VERSION} internals changed: RTCRtpReceiver has no private "
            "remote bitrate estimator"
        )
    inner = getattr(receiver, _BITRATE_ESTIMATOR)
    if inner is None:
        return False
    if not callable(getattr(inner, "add", None)):
        raise RuntimeError(f"aiortc {AIORTC_VERSION} internals changed: estimator has no add()")
    setattr(receiver, _BITRATE_ESTIMATOR, _CappedEstimator(inner, cap))
    return True
