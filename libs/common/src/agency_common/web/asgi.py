"""Reading the start of a request body in an ASGI middleware and handing the whole body on."""

from __future__ import annotations

from starlette.types import Message, Receive


async def read_body(receive: Receive, limit: int | None = None) -> tuple[list[Message], bytes]:
    """The body's messages read so far and their bytes: all of it, or at least ``limit`` bytes."""
    messages: list[Message] = []
    size, more = 0, True
    while more and (limit is None or size < limit):
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        more = bool(message.get("more_body"))
    return messages, b"".join(m.get("body", b"") for m in messages)


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read, then the rest of the request."""
    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed
