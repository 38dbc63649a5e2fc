"""The names of every event the server sends to a client, in one place.

docs/protocol.md describes each of them ("Server → client events"); a unit test keeps the two
lists equal. Members are ``str``s, so they go on the wire as they are.
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class ServerEvent(StrEnum):
    # From the desk, to customers (/customer).
    QUEUE = "queue"
    CALLBACK_CONFIRMED = "callback_confirmed"
    CALLBACK_SUGGESTED = "callback_suggested"
    MOVED = "moved"
    MATCHED = "matched"
    AGENT_CHANGED = "agent_changed"
    TRANSFERRED = "transferred"
    CLOSED = "closed"
    # From the desk, to both (customers by call id, agents by their own session id).
    SESSION_ENDED = "session_ended"
    PEER_DROPPED = "peer_dropped"  # the other party's connection dropped; the call waits
    PEER_RETURNED = "peer_returned"  # they are back (their media reconnects)
    MEDIA_MOVED = "media_moved"  # the call's media node went away: offer media anew
    # From the desk, to agents (/agent).
    AGENT_STATE = "agent_state"
    WAITING = "waiting"
    OFFER = "offer"
    OFFER_WITHDRAWN = "offer_withdrawn"
    OFFER_MISSED = "offer_missed"
    SESSION_STARTED = "session_started"
    TRANSFER_FAILED = "transfer_failed"
    WRAP_UP_EXPIRED = "wrap_up_expired"
    SIGNED_OUT = "signed_out"  # a supervisor signed the agent out
    # To supervisors (/supervisor), from the wallboard's ticker.
    FLOOR = "floor"
    # To supervisors watching a call (/supervisor): what happens in it (annotations, chat...).
    CALL_EVENT = "call_event"
    # To the agent (whisper, barge) and the customer (barge): a supervisor's voice joined or left.
    SUPERVISION = "supervision"
    # To one connection of either namespace, from the gateway: a newer one took its place.
    REPLACED = "replaced"
    # In a call, sent by the shells (gateway, HTTP, sticky tracking) rather than the desk.
    PHOTO = "photo"
    CHAT = "chat"
    TYPING = "typing"
    SOURCE_CHANGED = "source_changed"
    SOURCE_REQUESTED = "source_requested"
    SOURCE_DECLINED = "source_declined"
    CUSTOMER_MEDIA = "customer_media"
    FROZEN = "frozen"
    UNFROZEN = "unfrozen"
    ANNOTATION = "annotation"
    ANNOTATION_POINTS = "annotation_points"
    ANNOTATION_REMOVED = "annotation_removed"
    ANNOTATIONS_CLEARED = "annotations_cleared"
    LASER = "laser"
    ANNOTATION_MOVED = "annotation_moved"
    ANNOTATION_LOST = "annotation_lost"
    # Recording (videoassist/recording.py): the question to the customer, the state to both.
    RECORDING_CONSENT_REQUESTED = "recording_consent_requested"
    RECORDING_STATE = "recording_state"
    # Tutorials (videoassist/tutorials.py): a push to the customer, its player's reports back.
    TUTORIAL_PUSHED = "tutorial_pushed"
    TUTORIAL_PROGRESS = "tutorial_progress"
