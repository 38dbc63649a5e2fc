"""What the media hub accepts in signaling; apart from hub.py so that the wire schemas can share
the limits without importing aiortc."""

MAX_SDP_BYTES = 32 * 1024
MAX_M_SECTIONS = 4
