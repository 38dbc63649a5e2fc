"""Tutorial records and their full-text search.

Rows (tables in ``videoassist.store.records``): ``tutorials`` (one per tutorial: its draft, the
number of its published version, its public token), ``tutorial_versions`` (every published
version's edit model, kept for good), ``tutorial_renders`` (the files rendered, per version and
format) and ``tutorial_deflections`` (customers who left the line after watching).

Search is a port (``TutorialSearch``): the records hand it a ``SearchDoc`` per (tutorial,
state) whenever a draft is saved or a version published, and ask it for ranked hits. SQLite's
adapter is ``Fts5Search`` (tables made by migration 0009), PostgreSQL's ``PgSearch``
(``tsvector`` columns with GIN indexes and ``ts_rank``, migration 0023), behind the same three
methods; ``search_for`` picks by the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from videoassist.store.records import (
    tutorial_deflections,
    tutorial_renders,
    tutorial_versions,
    tutorials,
)

STATES = ("draft", "published")
MAX_HITS = 50


@dataclass(frozen=True, slots=True)
class Moment:
    """Somewhere to jump to: output seconds, the chapter it is in, what was said or written."""

    at: float
    chapter: int | None
    kind: str  # chapter / chat / label
    text: str


@dataclass(frozen=True, slots=True)
class SearchDoc:
    tutorial_id: str
    state: str  # draft / published
    topic: str | None
    title: str
    description: str
    tags: Sequence[str]
    chapters: Sequence[str]
    moments: Sequence[Moment] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Hit:
    tutorial_id: str
    state: str
    title: str
    topic: str | None
    score: float  # higher is better
    at: float | None = None
    chapter: int | None = None
    snippet: str = ""


class TutorialSearch(Protocol):
    async def index(self, doc: SearchDoc) -> None: ...
    async def drop(self, tutorial_id: str, state: str) -> None: ...
    async def search(
        self, text: str, *, topic: str | None, states: Sequence[str], limit: int = MAX_HITS
    ) -> list[Hit]: ...


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """The user's words as an FTS5 query: every word must appear (the last one as a prefix,
    so that results come while typing); operators and quotes typed are taken as words."""
    words = _WORD.findall(text.lower())[:12]
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


class _SqlSearch:
    """What both SQL adapters share: their two tables (documents, moments), dropping a
    document, the parameters of a search, and turning ranked rows into hits (each with the
    best moment to jump to)."""

    TABLES: tuple[str, str] = ("", "")
    MOMENT_SQL = ""  # the best moment of one document for :q, :id, :state

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def drop(self, tutorial_id: str, state: str) -> None:
        async with self.engine.begin() as conn:
            await self._drop(conn, tutorial_id, state)

    async def _drop(self, conn: Any, tutorial_id: str, state: str) -> None:
        for table in self.TABLES:
            await conn.execute(
                sa.text(f"DELETE FROM {table} WHERE tutorial_id = :id AND state = :state"),
                {"id": tutorial_id, "state": state},
            )

    @staticmethod
    def _params(
        query: str, topic: str | None, states: Sequence[str], limit: int
    ) -> tuple[str, dict[str, Any]]:
        """The ``IN (...)`` of the states and every bound parameter of a search."""
        marks = ", ".join(f":s{i}" for i in range(len(states)))
        params: dict[str, Any] = {f"s{i}": s for i, s in enumerate(states)}
        params |= {"q": query, "limit": min(limit, MAX_HITS), "topic": topic or ""}
        return marks, params

    async def _hits(self, conn: Any, rows: Sequence[Any], query: str) -> list[Hit]:
        hits = []
        for row in rows:
            moment = (
                await conn.execute(
                    sa.text(self.MOMENT_SQL),
                    {"q": query, "id": row.tutorial_id, "state": row.state},
                )
            ).first()
            hits.append(
                Hit(
                    tutorial_id=row.tutorial_id,
                    state=row.state,
                    title=row.title,
                    topic=row.topic or None,
                    score=self._score(float(row.rank)),
                    at=None if moment is None else float(moment.at),
                    chapter=None
                    if moment is None or moment.chapter is None
                    else int(moment.chapter),
                    snippet=row.snip,
                )
            )
        return hits

    @staticmethod
    def _score(rank: float) -> float:
        return round(rank, 6)


class Fts5Search(_SqlSearch):
    """SQLite FTS5, ranked with bm25: a match in the title weighs most, then chapters and
    tags, then the description, then the body (chat text and annotation labels)."""

    WEIGHTS = (10.0, 5.0, 5.0, 2.0, 1.0)  # title, chapters, tags, description, body
    TABLES = ("tutorial_search", "tutorial_moments")
    MOMENT_SQL = (
        "SELECT at, chapter FROM tutorial_moments WHERE tutorial_moments "
        "MATCH :q AND tutorial_id = :id AND state = :state "
        "ORDER BY rank, at LIMIT 1"
    )

    async def index(self, doc: SearchDoc) -> None:
        body = " ".join(m.text for m in doc.moments if m.kind != "chapter")
        async with self.engine.begin() as conn:
            await self._drop(conn, doc.tutorial_id, doc.state)
            await conn.execute(
                sa.text(
                    "INSERT INTO tutorial_search (tutorial_id, state, topic, title, chapters, "
                    "tags, description, body) VALUES (:id, :state, :topic, :title, :chapters, "
                    ":tags, :description, :body)"
                ),
                {
                    "id": doc.tutorial_id,
                    "state": doc.state,
                    "topic": doc.topic or "",
                    "title": doc.title,
                    "chapters": " ".join(doc.chapters),
                    "tags": " ".join(doc.tags),
                    "description": doc.description,
                    "body": body,
                },
            )
            if doc.moments:
                await conn.execute(
                    sa.text(
                        "INSERT INTO tutorial_moments (tutorial_id, state, at, chapter, kind, "
                        "text) VALUES (:id, :state, :at, :chapter, :kind, :text)"
                    ),
                    [
                        {
                            "id": doc.tutorial_id,
                            "state": doc.state,
                            "at": m.at,
                            "chapter": m.chapter,
                            "kind": m.kind,
                            "text": m.text,
                        }
                        for m in doc.moments
                    ],
                )

    async def search(
        self, text: str, *, topic: str | None, states: Sequence[str], limit: int = MAX_HITS
    ) -> list[Hit]:
        query = fts_query(text)
        if query is None or not states:
            return []
        marks, params = self._params(query, topic, states, limit)
        weights = ", ".join(str(w) for w in self.WEIGHTS)
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT tutorial_id, state, title, topic, "
                        f"bm25(tutorial_search, 0, 0, 0, {weights}) AS rank, "
                        "snippet(tutorial_search, -1, '[', ']', '…', 12) AS snip "
                        "FROM tutorial_search WHERE tutorial_search MATCH :q "
                        f"AND state IN ({marks}) AND (:topic = '' OR topic = :topic) "
                        "ORDER BY rank LIMIT :limit"
                    ),
                    params,
                )
            ).all()
            return await self._hits(conn, rows, query)

    @staticmethod
    def _score(rank: float) -> float:
        return round(-rank, 6)  # bm25: lower is better


def ts_query(text: str) -> str | None:
    """The user's words as a PostgreSQL ``to_tsquery`` string: every word must appear, the
    last one as a prefix; only word characters ever reach it, so nothing typed is an operator."""
    words = _WORD.findall(text.lower())[:12]
    if not words:
        return None
    return " & ".join(words) + ":*"


class PgSearch(_SqlSearch):
    """PostgreSQL full text (migration 0023): a ``tsvector`` per (tutorial, state), weighted
    as FTS5's columns are (title A, chapters and tags B, description C, chat text and
    annotation labels D) and ranked with ``ts_rank``; the ``simple`` configuration, since
    tutorials are written in any language; moments in a table of their own."""

    # ts_rank's weights, in its order {D, C, B, A}: the same proportions as Fts5Search's.
    WEIGHTS = "{0.1, 0.2, 0.5, 1.0}"
    TABLES = ("tutorial_search_pg", "tutorial_moments_pg")
    MOMENT_SQL = (
        "SELECT at, chapter FROM tutorial_moments_pg, "
        "to_tsquery('simple', :q) AS q WHERE document @@ q "
        "AND tutorial_id = :id AND state = :state "
        "ORDER BY ts_rank(document, q) DESC, at LIMIT 1"
    )

    async def index(self, doc: SearchDoc) -> None:
        body = " ".join(m.text for m in doc.moments if m.kind != "chapter")
        middle = " ".join([*doc.chapters, *doc.tags])
        async with self.engine.begin() as conn:
            await self._drop(conn, doc.tutorial_id, doc.state)
            await conn.execute(
                sa.text(
                    "INSERT INTO tutorial_search_pg (tutorial_id, state, topic, title, text, "
                    "document) VALUES (:id, :state, :topic, :title, :text, "
                    "setweight(to_tsvector('simple', :title), 'A') || "
                    "setweight(to_tsvector('simple', :middle), 'B') || "
                    "setweight(to_tsvector('simple', :description), 'C') || "
                    "setweight(to_tsvector('simple', :body), 'D'))"
                ),
                {
                    "id": doc.tutorial_id,
                    "state": doc.state,
                    "topic": doc.topic or "",
                    "title": doc.title,
                    "text": " ".join([doc.title, middle, doc.description, body]),
                    "middle": middle,
                    "description": doc.description,
                    "body": body,
                },
            )
            if doc.moments:
                await conn.execute(
                    sa.text(
                        "INSERT INTO tutorial_moments_pg (tutorial_id, state, at, chapter, kind, "
                        "text, document) VALUES (:id, :state, :at, :chapter, :kind, :text, "
                        "to_tsvector('simple', :text))"
                    ),
                    [
                        {
                            "id": doc.tutorial_id,
                            "state": doc.state,
                            "at": m.at,
                            "chapter": m.chapter,
                            "kind": m.kind,
                            "text": m.text,
                        }
                        for m in doc.moments
                    ],
                )

    async def search(
        self, text: str, *, topic: str | None, states: Sequence[str], limit: int = MAX_HITS
    ) -> list[Hit]:
        query = ts_query(text)
        if query is None or not states:
            return []
        marks, params = self._params(query, topic, states, limit)
        options = "StartSel=[, StopSel=], MaxWords=12, MinWords=3, ShortWord=0, MaxFragments=1"
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT tutorial_id, state, title, topic, "
                        f"ts_rank('{self.WEIGHTS}'::float4[], document, q) AS rank, "
                        f"ts_headline('simple', text, q, '{options}') AS snip "
                        "FROM tutorial_search_pg, to_tsquery('simple', :q) AS q "
                        f"WHERE document @@ q AND state IN ({marks}) "
                        "AND (:topic = '' OR topic = :topic) "
                        "ORDER BY rank DESC, title LIMIT :limit"
                    ),
                    params,
                )
            ).all()
            return await self._hits(conn, rows, query)


class NoSearch:
    """For a database with no full-text adapter: indexes nothing and finds nothing; listing
    without words still works."""

    async def index(self, doc: SearchDoc) -> None:
        return None

    async def drop(self, tutorial_id: str, state: str) -> None:
        return None

    async def search(
        self, text: str, *, topic: str | None, states: Sequence[str], limit: int = MAX_HITS
    ) -> list[Hit]:
        return []


def search_for(engine: AsyncEngine) -> TutorialSearch:
    """The search adapter for the engine's database."""
    if engine.dialect.name == "sqlite":
        return Fts5Search(engine)
    if engine.dialect.name == "postgresql":
        return PgSearch(engine)
    return NoSearch()


class TutorialRecords:
    """The tutorial rows over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(tutorials.insert().values(**row))

    async def get(self, tutorial_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(tutorials.select().where(tutorials.c.id == tutorial_id))
            ).first()
            return dict(row._mapping) if row else None

    async def listing(self, *, published_only: bool, topic: str | None) -> list[dict[str, Any]]:
        query = tutorials.select().order_by(tutorials.c.created_at.desc()).limit(MAX_HITS)
        if published_only:
            query = query.where(tutorials.c.published_version.is_not(None))
        if topic:
            query = query.where(tutorials.c.topic == topic)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def save_draft(self, tutorial_id: str, draft: dict[str, Any] | None, at: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                tutorials.update()
                .where(tutorials.c.id == tutorial_id)
                .values(draft=draft, draft_at=None if draft is None else at)
            )
            await conn.execute(
                tutorial_renders.delete().where(
                    tutorial_renders.c.tutorial_id == tutorial_id,
                    tutorial_renders.c.version == "draft",
                )
            )

    async def publish(self, tutorial_id: str, by: str, at: float) -> int | None:
        """The draft becomes the next version and the published one, in one transaction; None
        when there is no draft."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(tutorials.select().where(tutorials.c.id == tutorial_id))
            ).first()
            if row is None or row.draft is None:
                return None
            last = (
                await conn.execute(
                    sa.select(sa.func.max(tutorial_versions.c.version)).where(
                        tutorial_versions.c.tutorial_id == tutorial_id
                    )
                )
            ).scalar_one_or_none()
            version = (last or 0) + 1
            await conn.execute(
                tutorial_versions.insert().values(
                    tutorial_id=tutorial_id,
                    version=version,
                    edit=row.draft,
                    published_at=at,
                    published_by=by,
                )
            )
            await conn.execute(
                tutorials.update()
                .where(tutorials.c.id == tutorial_id)
                .values(
                    draft=None,
                    draft_at=None,
                    published_version=version,
                    topic=row.draft.get("topic"),
                )
            )
            return version

    async def version(self, tutorial_id: str, version: int) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    tutorial_versions.select().where(
                        tutorial_versions.c.tutorial_id == tutorial_id,
                        tutorial_versions.c.version == version,
                    )
                )
            ).first()
            return dict(row._mapping) if row else None

    async def versions(self, tutorial_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                tutorial_versions.select()
                .where(tutorial_versions.c.tutorial_id == tutorial_id)
                .order_by(tutorial_versions.c.version.desc())
            )
            return [dict(r._mapping) for r in rows]

    async def set_public_token(self, tutorial_id: str, token: str | None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                tutorials.update().where(tutorials.c.id == tutorial_id).values(public_token=token)
            )

    async def by_public_token(self, token: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(tutorials.select().where(tutorials.c.public_token == token))
            ).first()
            return dict(row._mapping) if row else None

    async def add_render(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                tutorial_renders.delete().where(
                    tutorial_renders.c.tutorial_id == row["tutorial_id"],
                    tutorial_renders.c.version == row["version"],
                    tutorial_renders.c.format == row["format"],
                )
            )
            await conn.execute(tutorial_renders.insert().values(**row))

    async def renders(self, tutorial_id: str, version: str) -> dict[str, dict[str, Any]]:
        """The files rendered of one version ("3" or "draft"), by format."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                tutorial_renders.select().where(
                    tutorial_renders.c.tutorial_id == tutorial_id,
                    tutorial_renders.c.version == version,
                )
            )
            return {r.format: dict(r._mapping) for r in rows}

    async def add_deflection(self, row: dict[str, Any]) -> bool:
        """Once per ticket; False if it was counted already."""
        async with self.engine.begin() as conn:
            seen = (
                await conn.execute(
                    sa.select(tutorial_deflections.c.id).where(
                        tutorial_deflections.c.ticket_id == row["ticket_id"]
                    )
                )
            ).first()
            if seen is not None:
                return False
            await conn.execute(tutorial_deflections.insert().values(**row))
            return True

    async def deflections(self, since: float = 0.0) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                tutorial_deflections.select()
                .where(tutorial_deflections.c.at >= since)
                .order_by(tutorial_deflections.c.at)
            )
            return [dict(r._mapping) for r in rows]
