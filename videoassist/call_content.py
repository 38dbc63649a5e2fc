"""Stills and photos shared in a call, and the call's event log (the recording sidecar).

Files live under ``<data_dir>/calls/<call_id>/<item_id>.jpg``; a row in ``call_items`` says
which call they belong to. They are served only through short-lived signed URLs handed to the
call's participants. Customer photos are decoded and re-encoded: only real images get in, and
their metadata (EXIF, GPS) does not.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from videoassist.media.hub import MediaHub
from videoassist.store.records import Records

PHOTO_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
MAX_SIDE = 4096
URL_TTL = 3600


class ContentError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _reencode(data: bytes) -> bytes:
    import cv2
    import numpy as np

    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # e.g. over OPENCV_IO_MAX_IMAGE_PIXELS (set in videoassist/__init__.py)
        image = None
    if image is None:
        raise ContentError(415, "not_an_image", "the file is not an image we can read")
    height, width = image.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (int(width * scale), int(height * scale)), cv2.INTER_AREA)
    ok, out = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ContentError(500, "encode_failed", "the photo could not be stored")
    return bytes(out)


class CallContent:
    def __init__(
        self, records: Records, hub: MediaHub, data_dir: Path, secret: str, photo_max_bytes: int
    ) -> None:
        self._records = records
        self._hub = hub
        self._root = Path(data_dir) / "calls"
        self._urls = URLSafeTimedSerializer(secret, salt="videoassist.call-item")
        self.photo_max_bytes = photo_max_bytes

    async def log(self, call_id: str, kind: str, actor: str, payload: Any) -> None:
        room = self._hub.room(call_id)
        await self._records.add_call_event(call_id, time.time(), room.clock(), kind, actor, payload)

    async def freeze(self, call_id: str, actor: str) -> dict[str, Any]:
        data = await self._hub.still(call_id)
        item = await self._store(call_id, "still", data, actor)
        room = self._hub.room(call_id)
        room.frozen = item["id"]
        await self.log(call_id, "freeze", actor, {"still_id": item["id"]})
        return item

    async def add_photo(
        self, call_id: str, actor: str, content_type: str, data: bytes
    ) -> dict[str, Any]:
        magic = PHOTO_TYPES.get(content_type)
        if magic is None:
            raise ContentError(415, "unsupported_type", "send a JPEG, PNG or WebP image")
        if len(data) > self.photo_max_bytes:
            raise ContentError(413, "too_large", "the photo is too large")
        if not data.startswith(magic):
            raise ContentError(415, "not_an_image", "the file does not match its type")
        self._hub.room(call_id)  # the call must be live before we spend CPU on it
        clean = await asyncio.get_running_loop().run_in_executor(None, _reencode, data)
        item = await self._store(call_id, "photo", clean, actor)
        await self.log(call_id, "photo", actor, {"photo_id": item["id"]})
        return item

    async def _store(self, call_id: str, kind: str, data: bytes, actor: str) -> dict[str, Any]:
        item_id = secrets.token_hex(8)
        folder = self._root / call_id
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread((folder / f"{item_id}.jpg").write_bytes, data)
        await self._records.add_call_item(
            {
                "id": item_id,
                "call_id": call_id,
                "kind": kind,
                "content_type": "image/jpeg",
                "size": len(data),
                "created_at": time.time(),
                "created_by": actor,
            }
        )
        self._hub.room(call_id).add_item(item_id, kind)
        return {"id": item_id, "kind": kind, "url": self.url(call_id, item_id)}

    def url(self, call_id: str, item_id: str) -> str:
        token = self._urls.dumps([call_id, item_id])
        return f"/api/calls/{call_id}/items/{item_id}?sig={token}"

    async def open(self, call_id: str, item_id: str, sig: str) -> Path:
        try:
            signed = self._urls.loads(sig, max_age=URL_TTL)
        except (BadSignature, SignatureExpired):
            raise ContentError(
                403, "forbidden", "this link is not valid (or has expired)"
            ) from None
        if signed != [call_id, item_id]:
            raise ContentError(403, "forbidden", "this link is not valid")
        row = await self._records.call_item(item_id)
        if row is None or row["call_id"] != call_id:
            raise ContentError(404, "not_found", "no such item")
        return self._root / call_id / f"{item_id}.jpg"
