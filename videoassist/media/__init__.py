"""Media: WebRTC termination and forwarding (aiortc). Signaling-agnostic: SDP in, SDP out."""
