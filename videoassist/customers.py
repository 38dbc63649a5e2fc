"""Customers for admins: look one up, read their history, export their data, erase them.

A customer is known by the signed reference of the embedding app's identity (an anonymous
customer has no reference, so nothing links their calls to them). What is kept about them is
listed in ``videoassist/store/customers.py``; docs/privacy.md says what each step covers.

* **Export** (GDPR access and portability): a ZIP made in a worker thread: ``customer.json``
  (their row, tickets, call legs with the agents' notes, the context the app sent, their CSAT
  answer, the chat and marks of their calls, the recordings' and photos' metadata) and the
  files (photos, recordings with their sidecars).
* **Erasure**: refused while the customer has a request open (end it first) and, when a
  tutorial was made from one of their recordings, unless the admin says to delete those
  tutorials too. Then, in one transaction, the rows that hold what they said or showed are
  deleted and the personal fields of their tickets and call legs cleared (they stay, anonymous,
  so yesterday's report still adds up); then the files (recordings, photos, tutorials made from
  them) are deleted in a worker thread. The audit log says an admin erased a customer, by a
  hash of the reference, never the reference itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import tempfile
import time
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from videoassist.desk.events import AuditRow
from videoassist.errors import Problem
from videoassist.store.customers import CustomerRecords
from videoassist.store.records import Records

logger = logging.getLogger(__name__)


def ref_hash(ref: str) -> str:
    """What the audit log keeps of an erased customer: enough to match a request, not the ref."""
    return hashlib.sha256(ref.encode()).hexdigest()[:16]


class Customers:
    def __init__(
        self,
        records: Records,
        data_dir: Path,
        *,
        open_ticket: Callable[[str], bool],
        drop_from_search: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        """``open_ticket(ticket_id)``: the desk still has this ticket open (waiting or in a
        call). ``drop_from_search(tutorial_id, state)``: takes a deleted tutorial out of the
        search index."""
        self.records = records
        self.store = CustomerRecords(records.engine)
        self.data_dir = Path(data_dir)
        self._open_ticket = open_ticket
        self._drop_from_search = drop_from_search

    async def find(self, text: str) -> list[dict[str, Any]]:
        return [_customer_out(row) for row in await self.store.find(text)]

    async def history(self, ref: str) -> dict[str, Any]:
        history = await self.store.history(ref)
        if history is None:
            raise Problem("not_found", "no such customer", 404)
        return history

    async def profile(self, ref: str) -> dict[str, Any]:
        """The customer and every request with its outcome, as the admin page shows them."""
        h = await self.history(ref)
        legs_of: dict[str, list[dict[str, Any]]] = {}
        for leg in h["sessions"]:
            legs_of.setdefault(leg["ticket_id"], []).append(leg)
        context = {row["ticket_id"]: row["context"] for row in h["context"]}
        answers = {row["ticket_id"]: row for row in h["csat"]}
        recorded: dict[str, list[dict[str, Any]]] = {}
        for row in h["recordings"]:
            recorded.setdefault(row["call_id"], []).append(row)
        requests = []
        for ticket in h["tickets"]:
            legs = legs_of.get(ticket["id"], [])
            calls = {leg["call_id"] or leg["id"] for leg in legs}
            answer = answers.get(ticket["id"])
            requests.append(
                {
                    "ticket_id": ticket["id"],
                    "queue": ticket["queue_id"],
                    "topic": ticket["topic"],
                    "description": ticket["description"],
                    "tapped_at": ticket["queued_at"],
                    "ended_at": ticket["ended_at"],
                    "status": ticket["status"],
                    "end_reason": ticket["end_reason"],
                    "context": context.get(ticket["id"], {}),
                    "calls": [
                        {
                            "session_id": leg["id"],
                            "agent": leg["agent_id"],
                            "answered_at": leg["answered_at"],
                            "ended_at": leg["ended_at"],
                            "wait": round(leg["answered_at"] - ticket["queued_at"], 1),
                            "end_reason": leg["end_reason"],
                            "disposition": leg["disposition"],
                        }
                        for leg in legs
                    ],
                    "csat": {"score": answer["score"], "comment": answer["comment"]}
                    if answer
                    else None,
                    "recordings": [
                        {"id": r["id"], "duration": r["duration"], "consent": r["consent"]}
                        for call in sorted(calls)
                        for r in recorded.get(call, [])
                    ],
                }
            )
        return {
            "customer": _customer_out(h["customer"]) if h["customer"] else {"ref": ref},
            "requests": requests,
            "tutorials": [t["id"] for t in h["tutorials"]],
        }

    # ------------------------------------------------------------ export

    async def export(self, ref: str) -> Path:
        """A ZIP of everything kept about the customer, in a temporary file the caller sends
        and then deletes (``cleanup``). Made in a worker thread."""
        history = await self.history(ref)
        return await asyncio.to_thread(self._zip, ref, history)

    def _zip(self, ref: str, history: dict[str, Any]) -> Path:
        with tempfile.NamedTemporaryFile(prefix="customer-", suffix=".zip", delete=False) as handle:
            path = Path(handle.name)
        manifest = {
            "exported_at": time.time(),
            "reference": ref,
            **{key: value for key, value in history.items() if key != "calls"},
        }
        try:
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("customer.json", json.dumps(manifest, indent=1, default=str))
                for item in history["items"]:
                    photo = self.data_dir / "calls" / item["call_id"] / f"{item['id']}.jpg"
                    if photo.is_file():
                        archive.write(photo, f"photos/{item['call_id']}/{photo.name}")
                for row in history["recordings"]:
                    folder = self.data_dir / "recordings" / row["call_id"]
                    for file in sorted(folder.glob("*")) if folder.is_dir() else []:
                        if file.is_file():
                            # Media is compressed already: stored as it is.
                            archive.write(
                                file,
                                f"recordings/{row['call_id']}/{file.name}",
                                compress_type=zipfile.ZIP_STORED,
                            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    # ------------------------------------------------------------ erasure

    async def erase(self, ref: str, actor: tuple[str, str], with_tutorials: bool) -> dict[str, Any]:
        history = await self.history(ref)
        still_open = [t["id"] for t in history["tickets"] if self._open_ticket(t["id"])]
        if still_open:
            raise Problem(
                "conflict",
                "the customer has a request open (waiting or in a call): end it first",
                409,
            )
        made = [t["id"] for t in history["tutorials"]]
        if made and not with_tutorials:
            raise Problem(
                "conflict",
                f"tutorials were made from this customer's recordings ({', '.join(made)}): "
                "delete them with the erasure (with_tutorials) or have a trainer replace them",
                409,
            )
        counts = await self.store.erase(ref, history)
        for tutorial_id in made:
            if self._drop_from_search is not None:
                for state in ("draft", "published"):
                    await self._drop_from_search(tutorial_id, state)
        folders = [self.data_dir / "recordings" / call for call in history["calls"]]
        folders += [self.data_dir / "calls" / call for call in history["calls"]]
        folders += [self.data_dir / "tutorials" / tutorial_id for tutorial_id in made]
        removed = await asyncio.to_thread(_remove, folders)
        actor_id, actor_name = actor
        await self.records.save_audit(
            AuditRow(
                at=time.time(),
                actor_id=actor_id,
                actor_name=actor_name,
                action="customer_erased",
                subject_kind="customer",
                subject_id=ref_hash(ref),
                detail={"requests": len(history["tickets"]), "folders": removed},
            )
        )
        logger.info(
            "Customers: %s erased customer %s (%d requests, %d folders)",
            actor_name,
            ref_hash(ref),
            len(history["tickets"]),
            removed,
        )
        return {"erased": True, "rows": counts, "folders": removed}


def _remove(folders: list[Path]) -> int:
    removed = 0
    for folder in folders:
        if folder.is_dir():
            shutil.rmtree(folder)
            removed += 1
    return removed


def _customer_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "ref": row["ref"],
        "name": row["name"],
        "email": row["email"],
        "first_contact": row["first_contact"],
        "last_contact": row["last_contact"],
    }
