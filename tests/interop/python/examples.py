"""The encoded examples of docs/protocol.md, read and replayed by the Python peer.

An example is a `JSON     <text>` line followed by a `msgpack  <hex>` line (a line may hold
several, three or more spaces apart). check_pairs() checks that both lines hold the same
message; replay_examples() sends every client->server example, byte for byte, to a real
server, following the document's "A session, start to end", and compares what comes back
with the server->client examples: exactly where the value is the document's own (math.add
1 + 2 is 3), by shape where it varies (a channel's number, an epoch, a price).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

import msgpack

from patchbay_peer import TYPES, Encoding, Frame, Peer, Stream, Subscription, from_wire

JSON_LINE = re.compile(r"^JSON {5}(.+)$")
MSGPACK_LINE = re.compile(r"^msgpack {2}(.+)$")
SEPARATOR = re.compile(r" {3,}")


@dataclass
class Example:
    line: int
    json_text: str
    hex: str

    @property
    def message(self) -> dict[str, Any]:
        """The example read as §3 says, {"t": type, field: value, ...}."""
        return from_wire(json.loads(self.json_text))

    def frame(self, encoding: Encoding) -> Frame:
        """The example exactly as the document writes it, in the frame kind of §2."""
        return self.json_text if encoding == "json" else bytes.fromhex(self.hex)


def parse(doc_path: str) -> list[Example]:
    with open(doc_path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    found: list[Example] = []
    for index, text in enumerate(lines):
        matched = JSON_LINE.match(text)
        if matched is None:
            continue
        texts = SEPARATOR.split(matched.group(1))
        following = MSGPACK_LINE.match(lines[index + 1]) if index + 1 < len(lines) else None
        hexes = SEPARATOR.split(following.group(1)) if following else []
        if len(hexes) != len(texts):
            raise ValueError(f"docs/protocol.md:{index + 1}: JSON example without its msgpack line")
        found.extend(Example(index + 1, t, h) for t, h in zip(texts, hexes))
    return found


def check_pairs(doc_path: str) -> list[dict[str, Any]]:
    """Each example's two lines decode to the same message; also whether Python's own
    encoders write the same bytes (informative: the document does not say they must)."""
    checks = []
    for example in parse(doc_path):
        from_json = json.loads(example.json_text)
        from_msgpack = msgpack.unpackb(bytes.fromhex(example.hex), raw=False)
        checks.append({
            "line": example.line,
            "t": TYPES.get(from_json[0]) if isinstance(from_json, list) and from_json else None,
            "agree": from_json == from_msgpack,
            "sameJsonText": json.dumps(from_json, separators=(",", ":"), ensure_ascii=False) == example.json_text,
            "sameMsgpackBytes": msgpack.packb(from_json).hex() == example.hex,
        })
    return checks


def shape_diff(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where `actual` does not have the shape of `expected`: the same keys, and values of
    the same JSON type (an integral float counts as a number, as §4.1's float64 ids)."""
    def kind(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, (int, float)):
            return "number"
        if isinstance(value, str):
            return "string"
        if isinstance(value, list):
            return "array"
        if isinstance(value, dict):
            return "object"
        return type(value).__name__

    if kind(expected) != kind(actual):
        return [f"{where or '.'}: {kind(expected)} expected, {kind(actual)} found"]
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            return [f"{where or '.'}: keys {sorted(expected)} expected, {sorted(actual)} found"]
        return [d for key in expected for d in shape_diff(expected[key], actual[key], f"{where}.{key}")]
    if isinstance(expected, list) and expected:
        return [d for i, item in enumerate(actual) for d in shape_diff(expected[0], item, f"{where}[{i}]")] or ([] if actual else [f"{where}: empty"])
    return []


CLIENT_TYPES = {"call", "cancel", "sub", "unsub", "pub", "stream", "credit", "ping", "pong"}


class Replay:
    """One session of the document, in one encoding: examples sent, replies compared."""

    def __init__(self, examples: list[Example], encoding: Encoding) -> None:
        self.examples = examples
        self.encoding = encoding
        self.checks: list[dict[str, Any]] = []
        self.sent: list[Example] = []

    def find(self, t: str, predicate: Callable[[dict[str, Any]], bool] = lambda _m: True) -> Example:
        """The first example of type `t` (in document order) that the predicate accepts."""
        for example in self.examples:
            if example.message.get("t") == t and predicate(example.message):
                return example
        raise LookupError(f"docs/protocol.md has no example of {t} that the replay needs")

    async def send(self, peer: Peer, example: Example) -> None:
        self.sent.append(example)
        await peer.send_raw(example.frame(self.encoding))

    def compare(self, example: Example, observed: Any, *, exact: bool, expected: Optional[dict[str, Any]] = None, note: str = "") -> None:
        """Records an observed server message against a documented one."""
        wanted = example.message if expected is None else expected
        differences = shape_diff(wanted, observed)
        if exact and not differences and observed != wanted:
            differences = [f"{json.dumps(wanted)} expected, {json.dumps(observed)} found"]
        self.checks.append({"line": example.line, "t": wanted["t"], "exact": exact, "observed": observed, "differences": differences, "note": note})


async def replay_examples(url: str, encoding: Encoding, doc_path: str, open_peer: Callable[[int], Awaitable[Peer]]) -> dict[str, Any]:
    """The document's "A session, start to end", its encoded examples sent byte for byte.
    Ids come from the examples; the peer's own requests use ids from 100."""
    replay = Replay(parse(doc_path), encoding)
    main = await open_peer(100)
    helper = await open_peer(1)
    report: dict[str, Any] = {}
    await replay_calls(replay, main, report)
    await replay_topics(replay, main, helper, report)
    await replay_stream(replay, main, report)
    await replay_ping(replay, main)
    await replay_lag(replay, main, report)
    await replay_reset(replay, main, report)
    report["others"] = await replay_others(replay, open_peer)
    return {
        "checks": replay.checks,
        "sent": [{"line": e.line, "t": e.message["t"]} for e in replay.sent],
        **report,
        "violations": main.violations + helper.violations,
        "lateReplies": main.late_replies,
    }


async def replay_calls(replay: Replay, main: Peer, report: dict[str, Any]) -> None:
    # §4: the math.add call and its result.
    call = replay.find("call", lambda m: m["path"] == "math.add")
    answer = main.expect_reply(call.message["id"])
    await replay.send(main, call)
    replay.compare(replay.find("result", lambda m: m["id"] == call.message["id"]), (await answer).message, exact=True)

    # §6: the session's failing call, made under the error example's id.
    error_example = replay.find("error")
    failed = await main.call("math.add", {"a": 1, "b": "x"}, id=error_example.message["id"])
    replay.compare(error_example, failed.message, exact=False)
    report["issuePaths"] = [issue.get("path") for issue in failed.error.get("issues", [])]

    # §4.2: an idempotent call with a key; no reply example, a result expected.
    keyed = replay.find("call", lambda m: "key" in m)
    placed = main.expect_reply(keyed.message["id"])
    await replay.send(main, keyed)
    report["placed"] = (await placed).message

    # §5: the session's slow call under the cancel example's id, then the cancel.
    cancel = replay.find("cancel")
    cancelled_id = cancel.message["id"]
    await main.start_call("reports.build", {"year": 2026}, id=cancelled_id)
    main.pending.pop(cancelled_id)
    await replay.send(main, cancel)
    report["aborted"] = (await main.call("reports.aborted", {"year": 2026})).message
    await main.ping()
    report["framesForCancelledId"] = [m for m in main.received if m.get("id") == cancelled_id]


async def replay_topics(replay: Replay, main: Peer, helper: Peer, report: dict[str, Any]) -> None:
    # §12: sub, its result, an event, unsub.
    sub = replay.find("sub", lambda m: "resume" not in m)
    sub_id = sub.message["id"]
    subscribed = main.expect_reply(sub_id, subscribe=True)
    await replay.send(main, sub)
    sub_reply = await subscribed
    result_example = replay.find("result", lambda m: m["id"] == sub_id)
    replay.compare(result_example, sub_reply.message, exact=False)
    subscription = sub_reply.subscription
    assert subscription is not None, sub_reply.message
    event_example = replay.find("event")
    await main.call("chat.say", {"room": sub.message["params"]["room"], "texts": [event_example.message["data"]["text"]]})
    event = await asyncio.wait_for(subscription.events.get(), 5)
    replay.compare(event_example, event, exact=True, expected={**event_example.message, "ch": subscription.ch})

    unsub = replay.find("unsub", lambda m: m["id"] == sub_id)
    await replay.send(main, unsub)
    main.channels[subscription.ch].remove(subscription)
    await main.ping()  # the server has handled the unsub
    await helper.call("chat.say", {"room": sub.message["params"]["room"], "texts": ["after unsub"]})
    await main.ping()
    report["eventsAfterUnsub"] = list(main.ignored_events)

    # §12.1: sub with resume (the same id, free since the unsub), an epoch of another server.
    resume = replay.find("sub", lambda m: "resume" in m)
    resumed = main.expect_reply(resume.message["id"], subscribe=True)
    await replay.send(main, resume)
    resumed_reply = await resumed
    replay.compare(result_example, resumed_reply.message, exact=False, note="resume from another epoch")
    mark = len(main.received)
    await main.ping()
    report["resumed"] = resumed_reply.message
    report["resumedFrom"] = resume.message["resume"]
    report["replayedForUnknownEpoch"] = [m for m in main.received[mark:] if m.get("t") == "event"]
    assert resumed_reply.subscription is not None, resumed_reply.message
    await replay.send(main, unsub)
    main.channels[resumed_reply.subscription.ch].remove(resumed_reply.subscription)

    # §13: pub to a channel two connections listen to (the example's result says 2).
    pub = replay.find("pub")
    listeners: list[Subscription] = []
    for peer in (main, helper):
        listening = await peer.subscribe(pub.message["path"], pub.message["params"])
        assert isinstance(listening, Subscription), listening
        listeners.append(listening)
    published = main.expect_reply(pub.message["id"])
    await replay.send(main, pub)
    replay.compare(replay.find("result", lambda m: m["id"] == pub.message["id"]), (await published).message, exact=True)
    report["ownEvent"] = await asyncio.wait_for(listeners[0].events.get(), 5)


async def replay_stream(replay: Replay, main: Peer, report: dict[str, Any]) -> None:
    """§15: stream granting credit, items, more credit, the end (market.ticks yields 40)."""
    stream_example = replay.find("stream")
    stream_id, first_credit = stream_example.message["id"], stream_example.message["credit"]
    running = Stream(stream_id, first_credit, main.expect_reply(stream_id))
    main.streams[stream_id] = running
    await replay.send(main, stream_example)
    items = [await asyncio.wait_for(running.items.get(), 5) for _ in range(first_credit)]
    credit_example = replay.find("credit", lambda m: m["id"] == stream_id)
    running.granted += credit_example.message["n"]
    await replay.send(main, credit_example)
    end = await asyncio.wait_for(running.end, 5)
    items.extend(running.items.get_nowait() for _ in range(running.items.qsize()))
    item_example = replay.find("item", lambda m: m["id"] == stream_id)
    for at, data in enumerate(items):
        replay.compare(item_example, {"t": "item", "id": stream_id, "data": data}, exact=False, note="after the credit" if at >= first_credit else "")
    replay.compare(replay.find("result", lambda m: m["id"] == stream_id and "output" not in m), end.message, exact=True)
    report["streamItems"] = len(items)


async def replay_lag(replay: Replay, main: Peer, report: dict[str, Any], count: int = 50) -> None:
    """§14: a burst on a drop-policy topic with a 1-byte high-water mark: messages are dropped
    for this connection, and a lag notice says which, once it drains."""
    feed = await main.subscribe("market.feed")
    assert isinstance(feed, Subscription), feed
    await main.call("market.burst", {"count": count})
    timeline: list[dict[str, Any]] = []
    accounted = 0
    while accounted < count:
        message = await asyncio.wait_for(feed.events.get(), 5)
        timeline.append(message)
        accounted += message["missed"] if message["t"] == "lag" else 1
    lag_example = replay.find("lag", lambda m: "missed" in m)
    for message in timeline:
        if message["t"] == "lag":
            replay.compare(lag_example, message, exact=False)
    report["lag"] = {"ch": feed.ch, "count": count, "timeline": [{"t": m["t"], "seq": m["seq"], "missed": m.get("missed")} for m in timeline]}


async def replay_reset(replay: Replay, main: Peer, report: dict[str, Any]) -> None:
    """§12.1, §14: the channel's sequence starts again under a live subscriber (the test
    server's chat.restart, as a scale-out engine that lost it): one lag naming the new epoch
    and its latest seq, then the new epoch's events from seq 1."""
    room = {"room": "restarted"}
    subscription = await main.subscribe("chat.room", room)
    assert isinstance(subscription, Subscription), subscription
    await main.call("chat.say", {**room, "texts": ["before"]})
    before = await asyncio.wait_for(subscription.events.get(), 5)
    restarted = await main.call("chat.restart", room)
    notice = await asyncio.wait_for(subscription.events.get(), 5)
    replay.compare(replay.find("lag", lambda m: "epoch" in m), notice, exact=False)
    await main.call("chat.say", {**room, "texts": ["after"]})
    after = await asyncio.wait_for(subscription.events.get(), 5)
    await main.ping()
    report["reset"] = {
        "ch": subscription.ch,
        "epoch": subscription.epoch,
        "before": before,
        "restarted": restarted.message,
        "notice": notice,
        "after": after,
        "more": [subscription.events.get_nowait() for _ in range(subscription.events.qsize())],  # nothing else for the channel
    }


async def replay_ping(replay: Replay, main: Peer) -> None:
    """§7: ping and pong, then a pong nobody asked for (ignored: the next ping is answered)."""
    pong_example = replay.find("pong")
    before = len(main.received)
    pong = main.expect_pong()
    await replay.send(main, replay.find("ping"))
    await asyncio.wait_for(pong, 5)
    replay.compare(pong_example, main.received[before], exact=True)
    await replay.send(main, pong_example)
    await main.ping()


def compare_replies(replay: Replay, received: list[dict[str, Any]]) -> None:
    """Compares replies to a lone example with the documented reply of the same id, if any
    (by shape: the session's state differs from the one the document's example assumed)."""
    checked = {(check["line"], check["t"]) for check in replay.checks}
    for message in received:
        for example in replay.examples:
            documented = example.message
            if (example.line, documented["t"]) in checked or documented["t"] != message.get("t") or documented.get("id") != message.get("id"):
                continue
            replay.compare(example, message, exact=False, note="reply to an example sent alone")
            break


async def replay_others(replay: Replay, open_peer: Callable[[int], Awaitable[Peer]]) -> list[dict[str, Any]]:
    """Client->server examples the session did not use (added to the document later): each
    sent alone on a fresh connection; what came back, so a test can see it was not refused."""
    outcomes = []
    for example in replay.examples:
        if example.message.get("t") not in CLIENT_TYPES or example in replay.sent:
            continue
        peer = await open_peer(100)
        await replay.send(peer, example)
        try:
            await asyncio.wait_for(peer.ping(), 5)
            outcomes.append({"line": example.line, "t": example.message["t"], "received": peer.received[:-1]})
            compare_replies(replay, peer.received[:-1])
        except ConnectionError:
            code, reason = await peer.closed()
            outcomes.append({"line": example.line, "t": example.message["t"], "closed": code, "reason": reason})
    return outcomes
