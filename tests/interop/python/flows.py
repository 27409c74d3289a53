"""The flows of the main group, each run by scenario.py once per subprotocol. Each returns
raw observations (frames, close codes, what arrived before a ping barrier); the assertions
are in tests/interop/python-client.test.ts. Section numbers cite docs/protocol.md."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgpack
import websockets.client
from websockets.exceptions import InvalidStatusCode

from context import Context, Report, drain, ensure_subscribed, health, next_event, next_item
from examples import check_pairs, replay_examples
from patchbay_peer import SUBPROTOCOLS, Peer, Reply, Stream


# ---- §4 calls and §6 errors --------------------------------------------------------------


async def flow_call(ctx: Context) -> Report:
    peer = await ctx.peer()
    reply = await peer.call("math.add", {"a": 1, "b": 2})
    return {"reply": reply.message, **health(peer)}


async def flow_out_of_order(ctx: Context) -> Report:
    """Slow calls held open on the server, fast ones between them; all correlate by id."""
    peer = await ctx.peer()
    gate = ctx.name("gate")
    expected: dict[int, Any] = {}
    futures: dict[int, asyncio.Future[Reply]] = {}
    slow_ids: list[int] = []
    fast_ids: list[int] = []
    arrival: list[int] = []
    for n in range(10):
        slow_id, futures[slow_id] = await peer.start_call("held.wait", {"gate": gate, "n": n})
        fast_id, futures[fast_id] = await peer.start_call("math.add", {"a": n, "b": 100})
        expected[slow_id], expected[fast_id] = {"n": n}, n + 100
        slow_ids.append(slow_id)
        fast_ids.append(fast_id)
    for request_id, future in futures.items():
        future.add_done_callback(lambda _f, request_id=request_id: arrival.append(request_id))
    # The fast calls are answered while the slow ones still wait at their gate.
    await asyncio.gather(*(futures[i] for i in fast_ids))
    answered_before_open = list(arrival)
    opened = await peer.call("held.open", {"gate": gate, "count": len(slow_ids)})
    await asyncio.gather(*futures.values())
    mismatches = [{"id": i, "expected": expected[i], "got": futures[i].result().message} for i in expected if futures[i].result().output != expected[i]]
    return {
        "sent": list(expected),
        "slowIds": slow_ids,
        "answeredBeforeOpen": answered_before_open,
        "arrival": arrival,
        "open": opened.message,
        "mismatches": mismatches,
        **health(peer),
    }


async def flow_errors(ctx: Context) -> Report:
    peer = await ctx.peer()
    bad = await peer.call("math.add", {"a": 1, "b": "x"})
    missing = await peer.call("math.subtract", {"a": 1, "b": 2})
    no_proto = await peer.call("__proto__", {})
    own = await peer.call("orders.place", {"sku": "gone"}, key="flow-errors-" + ctx.encoding)
    still_alive = await peer.call("math.add", {"a": 2, "b": 2})
    return {"badRequest": bad.message, "notFound": missing.message, "proto": no_proto.message, "own": own.message, "after": still_alive.message, **health(peer)}


async def flow_meta(ctx: Context) -> Report:
    """§3.1, §3.2: a meta that is not a map is BAD_REQUEST and the connection lives; a meta
    key holding null is checked like any value; unknown meta keys and elements past the
    ones a type defines are ignored; a meta written as null with nothing after it is none."""
    peer = await ctx.peer()

    async def sent(frame: list[Any]) -> dict[str, Any]:
        future = peer.expect_reply(frame[1])
        await peer.send(frame)
        return (await future).message

    return {
        "notAMap": await sent([1, 1, "math.add", "nope", {"a": 1, "b": 2}]),
        "nullKey": await sent([1, 2, "orders.place", {"key": None}, {"sku": "tea"}]),
        "ignored": await sent([1, 3, "math.add", {"later": 1, "resume": "calls have none"}, {"a": 1, "b": 2}, "later"]),
        "nullMeta": await sent([12, 4, "market.ticks", None, 1, {"symbol": ctx.name("META"), "count": 0}]),
        "endsAtPath": await sent([1, 5, "health"]),
        "trailingNullMeta": await sent([1, 6, "health", None]),
        "nullInput": await sent([1, 7, "health", None, None]),
        "after": await sent([1, 8, "math.add", None, {"a": 2, "b": 2}]),
        **health(peer),
    }


async def flow_cancel(ctx: Context) -> Report:
    """§5: the handler's signal aborts; nothing more is sent for the id; the id is free."""
    peer = await ctx.peer()
    year = 3000 + (1 if ctx.encoding == "json" else 2)
    call_id, _ = await peer.start_call("reports.build", {"year": year})
    await peer.cancel(call_id)
    # Answers once the server saw the abort (and the handler then returned a value).
    aborted = await peer.call("reports.aborted", {"year": year})
    await peer.ping()
    for_id = [m for m in peer.received if m.get("id") == call_id]
    reused = await peer.call("math.add", {"a": 20, "b": 22}, id=call_id)
    return {"year": year, "callId": call_id, "aborted": aborted.message, "framesForCancelledId": for_id, "reused": reused.message, **health(peer)}


# ---- §12 topics and §12.1 resume ---------------------------------------------------------


async def say(peer: Peer, room: str, texts: list[str]) -> Reply:
    """Publishes to chat.room through the test router's chat.say (server-published topic)."""
    return await peer.call("chat.say", {"room": room, "texts": texts})


async def flow_resume(ctx: Context) -> Report:
    room = ctx.name("resume")
    first = await ctx.peer()
    sub = ensure_subscribed(await first.subscribe("chat.room", {"room": room}))
    confirmed = {"ch": sub.ch, "seq": sub.seq, "epoch": sub.epoch}
    await say(first, room, ["a", "b"])
    seen = [await next_event(sub), await next_event(sub)]
    last_seq = seen[-1]["seq"]
    await first.close()

    back = await ctx.peer()
    await say(back, room, ["c", "d", "e"])  # published while nobody listens
    again = ensure_subscribed(await back.subscribe("chat.room", {"room": room}, resume={"epoch": sub.epoch, "seq": last_seq}))
    replayed = [await next_event(again) for _ in range(3)]
    await say(back, room, ["f"])
    after = await next_event(again)
    return {
        "confirmed": confirmed,
        "seen": seen,
        "resumed": {"ch": again.ch, "seq": again.seq, "epoch": again.epoch},
        "replayed": replayed,
        "after": after,
        **health(back),
    }


async def flow_resume_gap(ctx: Context) -> Report:
    """§12.1: history too short, and an unknown epoch."""
    room = ctx.name("gap")
    first = await ctx.peer()
    sub = ensure_subscribed(await first.subscribe("chat.room", {"room": room}))
    await say(first, room, ["1", "2"])
    await next_event(sub)
    last_seq = (await next_event(sub))["seq"]
    await first.close()

    back = await ctx.peer()
    await say(back, room, [str(n) for n in range(3, 11)])  # 8 more; the history keeps 5
    again = ensure_subscribed(await back.subscribe("chat.room", {"room": room}, resume={"epoch": sub.epoch, "seq": last_seq}))
    await back.ping()
    replayed = drain(again.events)
    await say(back, room, ["11"])
    after = await next_event(again)

    stranger = await ctx.peer()
    other = ensure_subscribed(await stranger.subscribe("chat.room", {"room": room}, resume={"epoch": "elsewhere.1", "seq": 3}))
    await stranger.ping()
    return {
        "epoch": sub.epoch,
        "resumedFrom": last_seq,
        "resumed": {"ch": again.ch, "seq": again.seq, "epoch": again.epoch},
        "missed": again.seq - last_seq,
        "replayed": replayed,
        "after": after,
        "unknownEpoch": {"ch": other.ch, "seq": other.seq, "epoch": other.epoch, "replayed": drain(other.events)},
        **health(back),
    }


# ---- §15 streams -------------------------------------------------------------------------


async def take(running: Stream, count: int) -> list[Any]:
    return [await next_item(running.items) for _ in range(count)]


async def flow_stream(ctx: Context) -> Report:
    peer = await ctx.peer()
    endless = ctx.name("ENDLESS")
    running = await peer.stream("market.ticks", {"symbol": endless, "count": 1000}, 3)
    first = await take(running, 3)
    await peer.ping()
    extra_after_first = drain(running.items)
    await peer.credit(running, 2)
    second = await take(running, 2)
    await peer.ping()
    extra_after_second = drain(running.items)
    mark = len(peer.received)
    await peer.cancel(running.id)
    await peer.ping()
    for_id_after_cancel = [m for m in peer.received[mark:] if m.get("id") == running.id]

    finite = await peer.stream("market.ticks", {"symbol": ctx.name("FINITE"), "count": 3}, 3)
    finite_items = await take(finite, 3)
    await peer.ping()
    ended_before_grant = finite.end.done()
    await peer.credit(finite, 1)
    end = await asyncio.wait_for(finite.end, 5)

    short = await peer.stream("market.ticks", {"symbol": ctx.name("SHORT"), "count": 2}, 10)
    short_end = await asyncio.wait_for(short.end, 5)
    return {
        "endlessSymbol": endless,
        "first": first,
        "extraAfterFirst": extra_after_first,
        "second": second,
        "extraAfterSecond": extra_after_second,
        "afterCancel": for_id_after_cancel,
        "finiteItems": finite_items,
        "endedBeforeGrant": ended_before_grant,
        "finiteEnd": end.message,
        "shortItems": drain(short.items),
        "shortEnd": short_end.message,
        **health(peer),
    }


# ---- §13 pub, §7 ping --------------------------------------------------------------------


async def flow_pub(ctx: Context) -> Report:
    peer = await ctx.peer()
    room = ctx.name("typing")
    sub = ensure_subscribed(await peer.subscribe("chat.typing", {"room": room}))
    published = await peer.publish("chat.typing", {"room": room}, {"who": "ada"})
    own = await next_event(sub)
    forbidden = await peer.publish("chat.room", {"room": room}, {"text": "not mine to send"})
    invalid = await peer.publish("chat.typing", {"room": room}, {"who": 7})
    return {"ch": sub.ch, "published": published.message, "own": own, "forbidden": forbidden.message, "invalid": invalid.message, **health(peer)}


async def flow_ping(ctx: Context) -> Report:
    peer = await ctx.peer()
    await peer.ping()
    return {"received": peer.received, **health(peer)}


# ---- §2 handshake ---------------------------------------------------------------------------


async def negotiated(url: str, offer: list[str]) -> dict[str, Any]:
    """What the server answers to an offer: the subprotocol and extensions, or the refusal."""
    try:
        ws = await websockets.client.connect(url, subprotocols=offer, ping_interval=None, open_timeout=5)  # type: ignore[arg-type]
    except InvalidStatusCode as refused:
        return {"status": refused.status_code}
    chosen = {"subprotocol": ws.subprotocol, "extensions": ws.response_headers.get("Sec-WebSocket-Extensions")}
    await ws.close()
    return chosen


async def flow_handshake(ctx: Context) -> Report:
    """§2: the first offered subprotocol the server supports wins; none is HTTP 400. The
    library offers permessage-deflate by default (the document is silent on it)."""
    mine, other = SUBPROTOCOLS[ctx.encoding], SUBPROTOCOLS["msgpack" if ctx.encoding == "json" else "json"]
    return {
        "mineFirst": await negotiated(ctx.url, [mine, other]),
        "unknownThenMine": await negotiated(ctx.url, ["patchbay.v2." + ctx.encoding, mine]),
        "withToken": await negotiated(ctx.url, [mine, "patchbay.auth.YWRhOnNlY3JldA"]),
        "none": await negotiated(ctx.url, ["patchbay.v2." + ctx.encoding]),
        "nothingOffered": await negotiated(ctx.url, []),
    }


# ---- §2 / §3 violations ------------------------------------------------------------------


async def closed_after(ctx: Context, frame: str | bytes) -> dict[str, Any]:
    peer = await ctx.peer()
    await peer.send_raw(frame)
    code, reason = await asyncio.wait_for(peer.closed(), 5)
    return {"code": code, "reason": reason}


async def flow_violations(ctx: Context) -> Report:
    json_mode = ctx.encoding == "json"

    def frame(value: Any) -> str | bytes:
        return json.dumps(value, separators=(",", ":")) if json_mode else msgpack.packb(value)

    ping_json = "[5]"
    ping_msgpack = msgpack.packb([5])
    return {
        "wrongKind": await closed_after(ctx, ping_msgpack if json_mode else ping_json),
        "undecodable": await closed_after(ctx, "[5" if json_mode else b"\xc1"),
        "trailing": await closed_after(ctx, ping_json + "]" if json_mode else ping_msgpack + b"\x00"),
        # §3's table: what an earlier snapshot's peer sends, a tag that is not an integer, an
        # integer that is no type's, a server type.
        "notArray": await closed_after(ctx, frame({"t": "ping"})),
        "noType": await closed_after(ctx, frame(["ping"])),
        "unknownType": await closed_after(ctx, frame([99])),
        "serverType": await closed_after(ctx, frame([2, 1, 3])),
        "badId": await closed_after(ctx, frame([1, -1, "math.add"])),
        "duplicateId": await duplicate_id(ctx),
    }


async def duplicate_id(ctx: Context) -> dict[str, Any]:
    peer = await ctx.peer()
    gate = ctx.name("duplicate")
    await peer.start_call("held.wait", {"gate": gate, "n": 1}, id=77)
    await peer.send({"t": "call", "id": 77, "path": "math.add", "input": {"a": 1, "b": 1}})
    code, reason = await asyncio.wait_for(peer.closed(), 5)
    return {"code": code, "reason": reason}


# ---- the examples of docs/protocol.md ----------------------------------------------------


async def flow_examples(ctx: Context) -> Report:
    report = await replay_examples(ctx.url, ctx.encoding, ctx.doc, ctx.peer)
    return {"pairs": check_pairs(ctx.doc), **report}
