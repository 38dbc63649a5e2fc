"""Socket.IO edge: who may connect, what each event may carry, who may touch which call.

    schemas.py     one pydantic model per incoming event, size-capped
    acks.py        the ack wrapper: rate limit, validate, run, one error shape
    namespaces.py  /customer and /agent: authentication on connect, authorization per event
    supervisor.py  /supervisor: the wallboard and supervisor actions (roles supervisor, admin)
    hardening.py   python-socketio/engine.io guards against malformed input (private hooks)

What the server sends goes through videoassist/delivery.py, never through a namespace.
"""

from videoassist.gateway.hardening import create_socket_server
from videoassist.gateway.namespaces import AgentNamespace, CustomerNamespace
from videoassist.gateway.supervisor import SupervisorNamespace

__all__ = ["AgentNamespace", "CustomerNamespace", "SupervisorNamespace", "create_socket_server"]
