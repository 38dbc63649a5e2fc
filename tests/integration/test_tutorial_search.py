"""The tutorial search port on real SQLite (FTS5) and a real PostgreSQL (tsvector): the same
cases on both, ranking, filters, states, moments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from videoassist.store.records import Records
from videoassist.store.tutorials import (
    Fts5Search,
    Moment,
    NoSearch,
    PgSearch,
    SearchDoc,
    TutorialSearch,
    fts_query,
    search_for,
    ts_query,
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def search(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TutorialSearch]:
    database: str | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        database = server.fresh_database()
        url = server.url(database)
    records = Records.open(url)
    await records.migrate()
    try:
        yield search_for(records.engine)
    finally:
        await records.close()
        if database is not None:
            request.getfixturevalue("postgres").drop_database(database)


def doc(tid: str, title: str, **more: object) -> SearchDoc:
    values: dict[str, object] = {
        "tutorial_id": tid,
        "state": "published",
        "topic": "setup",
        "title": title,
        "description": "",
        "tags": (),
        "chapters": (),
        "moments": (),
    }
    values.update(more)
    return SearchDoc(**values)  # type: ignore[arg-type]


async def _filler(search: TutorialSearch, n: int = 6) -> None:
    for i in range(n):  # documents without the word, so that it is rare enough to weigh
        await search.index(doc(f"f{i}", f"Unrelated guide {i}", description="paper and ink"))


async def test_a_title_match_outranks_a_description_match_which_outranks_chat(
    search: TutorialSearch,
) -> None:
    await _filler(search)
    await search.index(
        doc("chat", "Setup", moments=(Moment(3.0, None, "chat", "the printer jams"),))
    )
    await search.index(doc("desc", "Paper tray", description="when the printer jams"))
    await search.index(doc("title", "Printer jams"))
    hits = await search.search("printer", topic=None, states=("published",))
    assert [h.tutorial_id for h in hits] == ["title", "desc", "chat"]
    assert hits[0].score > hits[1].score > hits[2].score


async def test_topic_and_state_filter_and_reindexing_replaces(search: TutorialSearch) -> None:
    await search.index(doc("a", "Modem lights", topic="setup"))
    await search.index(doc("b", "Modem bill", topic="billing"))
    await search.index(doc("c", "Modem draft", state="draft"))
    assert [
        h.tutorial_id for h in await search.search("modem", topic="billing", states=("published",))
    ] == ["b"]
    assert {h.tutorial_id for h in await search.search("modem", topic=None, states=("draft",))} == {
        "c"
    }
    await search.index(doc("a", "Router lights", topic="setup"))
    assert "a" not in {
        h.tutorial_id for h in await search.search("modem", topic=None, states=("published",))
    }
    await search.drop("b", "published")
    assert await search.search("modem", topic=None, states=("published",)) == []


async def test_a_hit_names_the_best_moment_to_jump_to(search: TutorialSearch) -> None:
    moments = (
        Moment(0.0, 0, "chapter", "Unpack"),
        Moment(12.5, 1, "chapter", "Plug the cable"),
        Moment(20.0, 1, "chat", "is the cable green"),
        Moment(31.0, 2, "label", "Reset"),
    )
    await search.index(doc("t", "Router", chapters=("Unpack", "Plug the cable"), moments=moments))
    (hit,) = await search.search("reset", topic=None, states=("published",))
    assert (hit.at, hit.chapter) == (31.0, 2)
    (hit,) = await search.search("plug cable", topic=None, states=("published",))
    assert (hit.at, hit.chapter) == (12.5, 1)
    (hit,) = await search.search("rout", topic=None, states=("published",))  # prefix
    assert hit.at is None  # the title matched; no moment to jump to


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("Reset the ROUTER", '"reset" "the" "router"*'),
        ('a" OR b', '"a" "or" "b"*'),
        ("  ", None),
        ("NEAR(x", '"near" "x"*'),
    ],
)
def test_what_is_typed_becomes_words_never_operators(typed: str, query: str | None) -> None:
    assert fts_query(typed) == query


async def test_the_adapter_follows_the_database(search: TutorialSearch) -> None:
    engine = search.engine  # type: ignore[attr-defined]
    expected = Fts5Search if engine.dialect.name == "sqlite" else PgSearch
    assert type(search) is expected
    assert await NoSearch().search("anything", topic=None, states=("published",)) == []


async def test_what_is_typed_never_reaches_the_engine_as_an_operator(
    search: TutorialSearch,
) -> None:
    await search.index(doc("t", "Reset the router"))
    for typed in ('router" OR 1', "router & !x", "router:* |", "NEAR(router", "'; --"):
        hits = await search.search(typed, topic=None, states=("published",))
        assert [h.tutorial_id for h in hits] in ([], ["t"]), typed
    (hit,) = await search.search("ROUTER", topic=None, states=("published",))
    assert "[router]" in hit.snippet.lower()


@pytest.mark.parametrize(
    ("typed", "query"),
    [("Reset the ROUTER", "reset & the & router:*"), ("a' | b", "a & b:*"), ("  ", None)],
)
def test_postgresql_gets_words_never_operators(typed: str, query: str | None) -> None:
    assert ts_query(typed) == query
