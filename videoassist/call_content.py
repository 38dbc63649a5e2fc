"""Where stills and photos shared in a call are kept, and the signed links that serve them.

Files live under ``calls/<call_id>/<item_id>.jpg`` in the file store (videoassist/files.py); a row
in ``call_items`` says which call they belong to. They are served only through short-lived signed
URLs handed to the call's participants. Customer photos are decoded and re-encoded: only real
images get in, and their metadata (EXIF, GPS) does not. Which call an item belongs to, and who is
told of it, is the call room's business (videoassist/call_room.py); this module only stores and
serves.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from videoassist.errors import ContentError
from videoassist.files import FileStore
from videoassist.store.records import Records

PHOTO_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
MAX_SIDE = 4096
URL_TTL = 3600


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
        # interpolation by keyword: the third positional argument of resize is the output array
        image = cv2.resize(
            image, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA
        )
    ok, out = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ContentError(500, "encode_failed", "the photo could not be stored")
    return bytes(out)


class CallContent:
    def __init__(
        self, records: Records, files: FileStore, secret: str, photo_max_bytes: int
    ) -> None:
        self._records = records
        self._files = files
        self._urls = URLSafeTimedSerializer(secret, salt="videoassist.call-item")
        self.photo_max_bytes = photo_max_bytes

    async def clean_photo(self, content_type: str, data: bytes) -> bytes:
        """Only a real image of an accepted type gets in, re-encoded (off the loop) without
        its metadata."""
        magic = PHOTO_TYPES.get(content_type)
        if magic is None:
            raise ContentError(415, "unsupported_type", "send a JPEG, PNG or WebP image")
        if len(data) > self.photo_max_bytes:
            raise ContentError(413, "too_large", "the photo is too large")
        if not data.startswith(magic):
            raise ContentError(415, "not_an_image", "the file does not match its type")
        return await asyncio.get_running_loop().run_in_executor(None, _reencode, data)

    async def store(self, call_id: str, kind: str, data: bytes, actor: str) -> dict[str, Any]:
        item_id = secrets.token_hex(8)
        folder = self._files.folder("calls", call_id)
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
        return self._files.folder("calls", call_id) / f"{item_id}.jpg"
