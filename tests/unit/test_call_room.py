"""The call room on its own, with fake ports: what it keeps, what it publishes, what it delivers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from videoassist.call_room import CallEvent, CallRooms, EventLog, MarksMoved
from videoassist.delivery import Data, Parties
from videoassist.errors import RoomError

ARROW = {"kind": "arrow", "id": "a1", "from": [0.1, 0.1], "to": [0.5, 0.5]}


class Sent:
    """A delivery that writes down who was told what, in order."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str, dict[str, Any]]] = []

    async def to_customer(self, ticket_id: str, event: str, data: Data) -> None:
        self.log.append(("customer", ticket_id, event, dict(data)))

    async def to_agent(self, agent_id: str, event: str, data: Data) -> None:
        self.log.append(("agent", agent_id, event, dict(data)))

    async def to_call(self, parties: Parties, event: str, data: Data) -> None:
        await self.to_customer(parties.ticket_id, event, data)
        await self.to_agent(parties.agent_id, event, data)

    async def to_supervisors(self, event: str, data: Data) -> None:
        self.log.append(("supervisors", "", event, dict(data)))

    def events(self) -> list[tuple[str, str, str]]:
        return [(to, who, event) for to, who, event, _ in self.log]


class Tracker:
    def __init__(self) -> None:
        self.marks: dict[str, dict[str, Any]] = {}

    def add(self, mark: dict[str, Any]) -> None:
        self.marks[mark["id"]] = mark

    def replace(self, mark: dict[str, Any]) -> None:
        self.marks[mark["id"]] = mark

    def remove(self, mark_id: str) -> None:
        del self.marks[mark_id]

    def clear(self) -> None:
        self.marks.clear()


class Media:
    def __init__(self) -> None:
        self.trackers: dict[str, Tracker] = {}
        self.on_moved: MarksMoved | None = None
        self.origins: dict[str, float] = {}

    async def still(self, session_id: str) -> bytes:
        return b"jpeg"

    def clock_origin(self, session_id: str) -> float | None:
        return self.origins.get(session_id)

    def marks(self, session_id: str, on_moved: MarksMoved) -> Tracker:
        self.on_moved = on_moved
        return self.trackers.setdefault(session_id, Tracker())


class Items:
    def __init__(self) -> None:
        self.stored: list[tuple[str, str, bytes, str]] = []

    async def clean_photo(self, content_type: str, data: bytes) -> bytes:
        if content_type != "image/jpeg":
            raise RoomError("unsupported_type", "send a JPEG")
        return b"clean:" + data

    async def store(self, call_id: str, kind: str, data: bytes, actor: str) -> dict[str, Any]:
        item_id = f"{len(self.stored):016x}"
        self.stored.append((call_id, kind, data, actor))
        return {"id": item_id, "kind": kind, "url": self.url(call_id, item_id)}

    def url(self, call_id: str, item_id: str) -> str:
        return f"/items/{call_id}/{item_id}"


class EventRows:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str, str, Any]] = []

    async def add_call_event(
        self, call_id: str, at: float, media_time: float, kind: str, actor: str, payload: Any
    ) -> None:
        self.rows.append((call_id, media_time, kind, actor, payload))


def make() -> tuple[CallRooms, Sent, Media, Items, list[CallEvent]]:
    sent, media, items = Sent(), Media(), Items()
    rooms = CallRooms(sent, media, items)
    heard: list[CallEvent] = []

    async def listen(event: CallEvent) -> None:
        heard.append(event)

    rooms.subscribe(listen)
    rooms.open("c1", "t1", "u1")
    return rooms, sent, media, items, heard


class TestLifecycle:
    async def test_a_room_is_only_there_while_its_call_is(self) -> None:
        rooms, *_ = make()
        assert "c1" in rooms
        rooms.close("c1")
        with pytest.raises(RoomError) as refused:
            await rooms.say("c1", "customer", "t1", "Customer", "hello")
        assert refused.value.code == "no_session"
        rooms.close("c1")  # closing twice is harmless

    async def test_after_a_hand_over_the_new_agent_is_told_and_the_old_one_is_not(self) -> None:
        rooms, sent, *_ = make()
        rooms.hand_over("c1", "u2")
        await rooms.say("c1", "customer", "t1", "Customer", "still there?")
        assert sent.events() == [("customer", "t1", "chat"), ("agent", "u2", "chat")]
        assert rooms.state("c1")["chat"][0]["text"] == "still there?"

    async def test_an_unsubscribed_listener_hears_nothing_more(self) -> None:
        rooms, *_ = make()
        heard: list[str] = []

        async def listen(event: CallEvent) -> None:
            heard.append(event.kind)

        stop = rooms.subscribe(listen)
        await rooms.say("c1", "agent", "u1", "Alice", "one")
        stop()
        await rooms.say("c1", "agent", "u1", "Alice", "two")
        assert heard == ["chat"]


class TestPublishing:
    async def test_the_room_clock_counts_from_the_media_sessions_origin(self) -> None:
        """One media clock per call: events are stamped on the clock the recorder uses."""
        sent, media, items = Sent(), Media(), Items()
        rooms = CallRooms(sent, media, items)
        media.origins["c2"] = time.monotonic() - 42.0
        rooms.open("c2", "t2", "u2")
        assert 42.0 <= rooms.room("c2").clock() < 43.0

    async def test_every_change_is_published_with_its_media_time_before_anyone_is_told(
        self,
    ) -> None:
        rooms, sent, _, _, heard = make()
        seen_when_published: list[int] = []

        async def check(event: CallEvent) -> None:
            seen_when_published.append(len(sent.log))

        rooms.subscribe(check)
        await rooms.say("c1", "customer", "t1", "Customer", "hi")
        await rooms.annotate("c1", "u1", "Alice", "live", ARROW)
        assert seen_when_published == [0, 2]
        assert [(e.kind, e.actor) for e in heard] == [
            ("chat", "customer:t1"),
            ("annotate", "agent:u1"),
        ]
        assert all(e.call_id == "c1" and e.at >= 0 for e in heard)
        assert heard[1].at == heard[1].data["created_at"]

    async def test_a_failing_subscriber_does_not_stop_the_call(self) -> None:
        rooms, sent, _, _, heard = make()

        async def broken(event: CallEvent) -> None:
            raise RuntimeError("disk full")

        rooms.subscribe(broken)
        await rooms.say("c1", "agent", "u1", "Alice", "hello")
        assert len(heard) == 1 and sent.events()[-1] == ("agent", "u1", "chat")

    async def test_the_event_log_keeps_what_was_said_and_drawn_but_not_drafts_or_the_laser(
        self,
    ) -> None:
        rooms, *_ = make()
        rows = EventRows()
        rooms.subscribe(EventLog(rows))
        await rooms.typing("c1", "customer", "t1", "I am typ")
        await rooms.say("c1", "customer", "t1", "Customer", "I am typing")
        await rooms.annotate(
            "c1", "u1", "Alice", "live", {"kind": "laser", "id": "l1", "at": [0.5, 0.5]}
        )
        await rooms.annotate("c1", "u1", "Alice", "live", ARROW)
        await rooms.request_source("c1", "u1", "screen")
        await rooms.source_changed("c1", "t1", "screen")
        assert [(kind, actor) for _, _, kind, actor, _ in rows.rows] == [
            ("chat", "customer:t1"),
            ("annotate", "agent:u1"),
            ("annotations_clear", "customer:t1"),  # the new picture drops the old marks
            ("source", "customer:t1"),
        ]


class TestAnnotations:
    async def test_a_refused_annotation_changes_nothing_and_tells_nobody(self) -> None:
        rooms, sent, _, _, heard = make()
        await rooms.annotate("c1", "u1", "Alice", "live", ARROW)
        before = (rooms.state("c1"), len(sent.log), len(heard))
        for target, raw, code in [
            ("live", ARROW, "duplicate"),
            ("0123456789abcdef", {**ARROW, "id": "a2"}, "not_found"),
            ("live", {"kind": "arrow", "id": "a3"}, "invalid"),
        ]:
            with pytest.raises(RoomError) as refused:
                await rooms.annotate("c1", "u1", "Alice", target, raw)
            assert refused.value.code == code
        assert (rooms.state("c1"), len(sent.log), len(heard)) == before

    async def test_sticky_marks_are_tracked_from_drawing_to_removal(self) -> None:
        rooms, _, media, *_ = make()
        await rooms.annotate("c1", "u1", "Alice", "live", {**ARROW, "sticky": True})
        await rooms.annotate("c1", "u1", "Alice", "live", {**ARROW, "id": "plain"})
        tracker = media.trackers["c1"]
        assert list(tracker.marks) == ["a1"]
        await rooms.remove_annotation("c1", "u1", "live", "a1")
        assert tracker.marks == {}
        await rooms.remove_annotation("c1", "u1", "live", "plain")  # never tracked: no error

    async def test_a_tracked_move_updates_the_room_and_a_loss_tells_only_the_agent(self) -> None:
        rooms, sent, media, *_ = make()
        await rooms.annotate("c1", "u1", "Alice", "live", {**ARROW, "sticky": True})
        assert media.on_moved is not None
        mark = rooms.state("c1")["annotations"]["live"][0]
        moved = {**mark, "from": [0.2, 0.2], "to": [0.6, 0.6]}
        sent.log.clear()
        await media.on_moved("c1", [(moved, False, False), ({**moved, "lost": True}, True, False)])
        assert sent.events() == [
            ("customer", "t1", "annotation_moved"),
            ("agent", "u1", "annotation_moved"),
            ("customer", "t1", "annotation_moved"),
            ("agent", "u1", "annotation_moved"),
            ("agent", "u1", "annotation_lost"),
        ]
        assert rooms.state("c1")["annotations"]["live"][0]["lost"] is True

    async def test_moves_of_a_mark_removed_meanwhile_are_dropped(self) -> None:
        rooms, sent, media, *_ = make()
        await rooms.annotate("c1", "u1", "Alice", "live", {**ARROW, "sticky": True})
        mark = rooms.state("c1")["annotations"]["live"][0]
        await rooms.clear("c1", "u1", "live")
        sent.log.clear()
        assert media.on_moved is not None
        await media.on_moved("c1", [(mark, False, False)])
        await media.on_moved("gone", [(mark, False, False)])
        assert sent.log == []

    async def test_a_mark_found_again_moves_for_both_without_lost_and_says_found(self) -> None:
        rooms, sent, media, *_ = make()
        await rooms.annotate("c1", "u1", "Alice", "live", {**ARROW, "sticky": True})
        assert media.on_moved is not None
        mark = dict(rooms.state("c1")["annotations"]["live"][0])
        mark.pop("lost", None)
        await media.on_moved("c1", [({**mark, "lost": True}, True, False)])
        sent.log.clear()
        await media.on_moved("c1", [(mark, False, True)])
        assert sent.events() == [
            ("customer", "t1", "annotation_moved"),
            ("agent", "u1", "annotation_moved"),
        ]
        assert "lost" not in rooms.state("c1")["annotations"]["live"][0]
        assert all(entry[-1].get("found") is True for entry in sent.log), sent.log


class TestStillsAndPhotos:
    async def test_a_freeze_keeps_the_still_and_shows_it_to_both(self) -> None:
        rooms, sent, _, items, _ = make()
        item = await rooms.freeze("c1", "u1")
        assert items.stored == [("c1", "still", b"jpeg", "agent:u1")]
        assert rooms.state("c1")["frozen"] == item["id"]
        assert rooms.state("c1")["items"] == {item["id"]: {"kind": "still", "url": item["url"]}}
        assert sent.log[-1][2:] == ("frozen", {"still_id": item["id"], "url": item["url"]})
        await rooms.unfreeze("c1", "u1")
        with pytest.raises(RoomError) as refused:
            await rooms.unfreeze("c1", "u1")
        assert refused.value.code == "not_frozen"

    async def test_a_photo_goes_to_the_agent_only(self) -> None:
        rooms, sent, _, items, _ = make()
        item = await rooms.add_photo("c1", "t1", "image/jpeg", b"raw")
        assert items.stored == [("c1", "photo", b"clean:raw", "t:t1")]
        assert sent.log == [("agent", "u1", "photo", item | {"call_id": "c1"})]

    async def test_a_photo_for_a_call_that_has_ended_is_refused_before_any_work(self) -> None:
        rooms, _, _, items, _ = make()
        rooms.close("c1")
        with pytest.raises(RoomError):
            await rooms.add_photo("c1", "t1", "image/jpeg", b"raw")
        assert items.stored == []


class TestSources:
    async def test_a_switch_to_another_picture_clears_the_live_marks_for_everyone(self) -> None:
        rooms, sent, media, *_ = make()
        await rooms.annotate("c1", "u1", "Alice", "live", {**ARROW, "sticky": True})
        item = await rooms.freeze("c1", "u1")
        await rooms.annotate("c1", "u1", "Alice", item["id"], {**ARROW, "id": "on-still"})
        sent.log.clear()
        await rooms.source_changed("c1", "t1", "screen")
        assert sent.events() == [
            ("customer", "t1", "annotations_cleared"),
            ("agent", "u1", "annotations_cleared"),
            ("agent", "u1", "source_changed"),
        ]
        marks = rooms.state("c1")["annotations"]
        assert "live" not in marks and [m["id"] for m in marks[item["id"]]] == ["on-still"]
        assert media.trackers["c1"].marks == {}

    async def test_the_same_camera_again_keeps_the_marks(self) -> None:
        rooms, sent, *_ = make()
        await rooms.annotate("c1", "u1", "Alice", "live", ARROW)
        sent.log.clear()
        await rooms.source_changed("c1", "t1", "camera")  # the camera the call started on
        assert sent.events() == [("agent", "u1", "source_changed")]
        assert [m["id"] for m in rooms.state("c1")["annotations"]["live"]] == ["a1"]

    async def test_a_declined_request_is_reported_to_the_agent_only(self) -> None:
        rooms, sent, _, _, heard = make()
        await rooms.request_source("c1", "u1", "screen")
        await rooms.source_declined("c1", "t1", "screen")
        assert sent.log[-1] == ("agent", "u1", "source_declined", {"source": "screen"})
        assert [e.kind for e in heard] == ["source_request", "source_declined"]


class TestCustomerMedia:
    async def test_a_mute_reaches_the_agent_once_and_is_kept_for_a_rejoin(self) -> None:
        rooms, sent, _, _, heard = make()
        assert rooms.state("c1")["customer_media"] == {"audio": True, "video": True}
        await rooms.media_state("c1", "t1", audio=False, video=True)
        await rooms.media_state("c1", "t1", audio=False, video=True)  # nothing new: not sent
        await rooms.media_state("c1", "t1", audio=False, video=False)
        assert [entry for entry in sent.log if entry[2] == "customer_media"] == [
            ("agent", "u1", "customer_media", {"audio": False, "video": True}),
            ("agent", "u1", "customer_media", {"audio": False, "video": False}),
        ]
        assert [e.kind for e in heard] == ["media_state", "media_state"]
        assert rooms.state("c1")["customer_media"] == {"audio": False, "video": False}


class TestRestore:
    """A call restored after a restart gets its room back from the event log: what the log
    kept, replayed into a new room, is the room as it was, but for marks on the live video."""

    async def test_the_logged_events_rebuild_the_room_but_live_marks(self) -> None:
        rooms, *_ = make()
        log = EventRows()
        rooms.subscribe(EventLog(log))
        await rooms.say("c1", "customer", "t1", "Customer", "the light blinks")
        await rooms.say("c1", "agent", "u1", "Alice", "which one?")
        await rooms.source_changed("c1", "t1", "screen")
        await rooms.annotate("c1", "u1", "Alice", "live", ARROW)
        photo = await rooms.add_photo("c1", "t1", "image/jpeg", b"raw")
        await rooms.annotate("c1", "u1", "Alice", photo["id"], {**ARROW, "id": "a2"})
        pen = {"id": "p1", "kind": "pen", "points": [[0.1, 0.1], [0.2, 0.3]]}
        await rooms.annotate("c1", "u1", "Alice", photo["id"], pen)
        await rooms.extend_pen("c1", "u1", photo["id"], "p1", [[0.3, 0.4]])
        still = await rooms.freeze("c1", "u1")
        await rooms.annotate("c1", "u1", "Alice", still["id"], {**ARROW, "id": "a3"})
        await rooms.annotate("c1", "u1", "Alice", still["id"], {**ARROW, "id": "a4"})
        await rooms.remove_annotation("c1", "u1", still["id"], "a3")
        before = rooms.state("c1")
        assert [m["id"] for m in before["annotations"]["live"]] == ["a1"]
        before_room = rooms.room("c1")

        after, *_ = make()
        rows = [{"kind": kind, "payload": payload} for _, _, kind, _, payload in log.rows]
        sizes = {photo["id"]: len(b"clean:raw")}
        assert after.restore("c1", rows, sizes) == len(rows)
        restored = after.state("c1")
        assert restored["chat"] == before["chat"]
        assert restored["frozen"] == still["id"]
        assert restored["items"] == before["items"]
        assert restored["annotations"] == {
            photo["id"]: before["annotations"][photo["id"]],
            still["id"]: before["annotations"][still["id"]],
        }
        assert [m["id"] for m in restored["annotations"][still["id"]]] == ["a4"]
        assert restored["annotations"][photo["id"]][1]["points"] == [
            [0.1, 0.1],
            [0.2, 0.3],
            [0.3, 0.4],
        ]
        room = after.room("c1")
        assert (room.photos, room.photo_bytes, room.source) == (
            before_room.photos,
            before_room.photo_bytes,
            "screen",
        )
        # The chat goes on from where it was.
        assert await after.say("c1", "agent", "u1", "Alice", "back") == 3

    async def test_an_entry_it_cannot_replay_is_skipped_and_the_rest_applied(self) -> None:
        rooms, *_ = make()
        rows = [
            {"kind": "chat", "payload": {"text": "no sender"}},
            {
                "kind": "chat",
                "payload": {"id": 1, "from": "agent", "name": "A", "text": "hi", "at": 1.0},
            },
        ]
        assert rooms.restore("c1", rows, {}) == 1
        assert [line["text"] for line in rooms.state("c1")["chat"]] == ["hi"]
        assert rooms.restore("gone", rows, {}) == 0
