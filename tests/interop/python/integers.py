"""§4.1: integers as Python's msgpack writes them (uint64, 0xcf, for anything >= 2^32), and
small ones written wide as Go or Rust encoders may. Run by scenario.py under msgpack only."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import msgpack
from websockets.exceptions import ConnectionClosed

from context import Context, Report, drain, ensure_subscribed, next_event
from patchbay_peer import Peer, Reply, to_wire

BIG = 2**32


def patched_int(message: dict[str, Any], placeholder: int, prefix: bytes, value: int) -> bytes:
    """Packs `message` (§3's array), then rewrites the uint64 placeholder as `prefix` +
    8-byte `value`: how Go or Rust encoders write small integers as int64/uint64."""
    packed = msgpack.packb(to_wire(message))
    marker = b"\xcf" + placeholder.to_bytes(8, "big")
    assert packed.count(marker) == 1
    return packed.replace(marker, prefix + value.to_bytes(8, "big", signed=prefix == b"\xd3"))


async def guarded(peer: Peer, action: Callable[[], Awaitable[Any]]) -> Any:
    """The action's report, or how the connection ended instead."""
    try:
        return await asyncio.wait_for(action(), 5)
    except (ConnectionError, ConnectionClosed, asyncio.TimeoutError) as error:
        code, reason = await peer.closed() if peer.ws.closed else (None, "")
        return {"failed": repr(error), "closeCode": code, "closeReason": reason}


async def flow_int_big_id(ctx: Context) -> Report:
    peer = await ctx.peer()
    request_id = BIG + 7
    # [1, id, "math.add", null, input]: the id is element 1, after the array's header and the tag.
    frame = msgpack.packb(to_wire({"t": "call", "id": request_id, "path": "math.add", "input": {"a": 1, "b": 2}}))

    async def act() -> Any:
        future = peer.expect_reply(request_id)
        await peer.send_raw(frame)
        reply = await future
        return {"reply": reply.message, "idType": type(reply.message["id"]).__name__}

    return {"sentId": request_id, "firstByteOfId": frame[2], "outcome": await guarded(peer, act)}


async def flow_int_big_input(ctx: Context) -> Report:
    peer = await ctx.peer()
    outcome = await guarded(peer, lambda: peer.call("math.add", {"a": BIG, "b": 1}))
    return {"expected": BIG + 1, "outcome": outcome.message if isinstance(outcome, Reply) else outcome}


async def flow_int_big_credit(ctx: Context) -> Report:
    peer = await ctx.peer()

    async def act() -> Any:
        running = await peer.stream("market.ticks", {"symbol": ctx.name("BIGCREDIT"), "count": 3}, BIG)
        end = await running.end
        return {"items": drain(running.items), "end": end.message}

    return {"outcome": await guarded(peer, act)}


async def flow_int_small_wide(ctx: Context) -> Report:
    """Small ids written as uint64 (0xcf) and int64 (0xd3), as some encoders do."""
    placeholder = 2**60 + 12345
    outcomes = {}
    for name, prefix, request_id in (("uint64", b"\xcf", 5), ("int64", b"\xd3", 6)):
        peer = await ctx.peer()  # one each: today the first closes its connection
        frame = patched_int({"t": "call", "id": placeholder, "path": "math.add", "input": {"a": 2, "b": 3}}, placeholder, prefix, request_id)

        async def act(peer: Peer = peer, frame: bytes = frame, request_id: int = request_id) -> Any:
            future = peer.expect_reply(request_id)
            await peer.send_raw(frame)
            return (await future).message

        outcomes[name] = await guarded(peer, act)
        outcomes[name + "Frame"] = frame.hex()
    return outcomes


async def flow_int_big_message(ctx: Context) -> Report:
    """A number >= 2^32 in a published message, and back in the event (§13, §9)."""
    peer = await ctx.peer()
    room = ctx.name("bigpub")

    async def act() -> Any:
        sub = ensure_subscribed(await peer.subscribe("chat.typing", {"room": room}))
        published = await peer.publish("chat.typing", {"room": room}, {"who": "bob", "at": BIG + 1})
        return {"published": published.message, "event": await next_event(sub) if published.ok else None}

    return {"outcome": await guarded(peer, act)}
