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

from patchbay_peer import Encoding, Frame, Peer, Stream, Subscription

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
        return json.loads(self.json_text)

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
            "t": from_json.get("t"),
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


class Replay:
    """One session of the document, in one encoding: examples sent, replies compared."""

    def __init__(self, examples: list[Example], encoding: Encoding) -> None:
        self.examples = examples
        self.encoding = encoding
        self.checks: list[dict[str, Any]] = []
        self.sent: list[int] = []

    def find(self, t: str, predicate: Callable[[dict[str, Any]], bool] = lambda _m: True) -> Example:
        matches = [e for e in self.examples if e.message.get("t") == t and predicate(e.message)]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} examples of {t} match")
        return matches[0]

    async def send(self, peer: Peer, example: Example) -> None:
        self.sent.append(example.line)
        await peer.send_raw(example.frame(self.encoding))

    def compare(self, example: Example, observed: Any, *, exact: bool, expected: Optional[dict[str, Any]] = None, note: str = "") -> None:
        """Records an observed server message against a documented one."""
        wanted = example.message if expected is None else expected
        differences = shape_diff(wanted, observed)
        if exact and not differences and observed != wanted:
            differences = [f"{json.dumps(wanted)} expected, {json.dumps(observed)} found"]
        self.checks.append({"line": example.line, "t": wanted["t"], "exact": exact, "observed": observed, "differences": differences, "note": note})


async def replay_examples(url: str, encoding: Encoding, doc_path: str, open_peer: Callable[[int], Awaitable[Peer]]) -> dict[str, Any]:
    replay = Replay(parse(doc_path), encoding)
    main = await open_peer(100)  # its own requests use ids from 100, clear of the examples'
    helper = await open_peer(1)

    # §4: call (id 1) and its result.
    answer = main.expect_reply(1)
    await replay.send(main, replay.find("call", lambda m: m["path"] == "math.add"))
    replay.compare(replay.find("result", lambda m: m["id"] == 1), (await answer).message, exact=True)

    # §6: the session's failing call (id 2), against the error example.
    failed = await main.call("math.add", {"a": 1, "b": "x"}, id=2)
    error_example = replay.find("error")
    replay.compare(error_example, failed.message, exact=False, note="issues[0].path")
    issue_paths = [issue.get("path") for issue in failed.error.get("issues", [])]

    # §4.2: an idempotent call with a key (id 9); no reply example, a result expected.
    placed = main.expect_reply(9)
    await replay.send(main, replay.find("call", lambda m: m["path"] == "orders.place"))
    placed_reply = (await placed).message

    # §5: the session's slow call (id 3), then the cancel example.
    await main.start_call("reports.build", {"year": 2026}, id=3)
    main.pending.pop(3)
    await replay.send(main, replay.find("cancel"))
    aborted = await main.call("reports.aborted", {"year": 2026})
    await main.ping()
    for_cancelled = [m for m in main.received if m.get("id") == 3]

    # §12: sub (id 4), its result, an event, unsub.
    subscribed = main.expect_reply(4, subscribe=True)
    await replay.send(main, replay.find("sub", lambda m: "resume" not in m))
    sub_reply = await subscribed
    sub_result = sub_reply.message
    result_example = replay.find("result", lambda m: m["id"] == 4)
    replay.compare(result_example, sub_result, exact=False)
    subscription = sub_reply.subscription
    assert subscription is not None, sub_result
    await main.call("chat.say", {"room": "lobby", "texts": ["hi"]})  # lobby's first message
    event = await asyncio.wait_for(subscription.events.get(), 5)
    event_example = replay.find("event")
    replay.compare(event_example, event, exact=True, expected={**event_example.message, "ch": subscription.ch})

    await replay.send(main, replay.find("unsub"))
    main.channels[subscription.ch].remove(subscription)
    await main.ping()  # the server has handled the unsub
    await helper.call("chat.say", {"room": "lobby", "texts": ["after unsub"]})
    await main.ping()
    after_unsub = list(main.ignored_events)

    # §12.1: sub with resume (id 4 again: free since the unsub), an epoch of another server.
    resumed = main.expect_reply(4, subscribe=True)
    await replay.send(main, replay.find("sub", lambda m: "resume" in m))
    resumed_reply = await resumed
    resumed_result = resumed_reply.message
    replay.compare(result_example, resumed_result, exact=False, note="resume from another epoch")
    resumed_subscription = resumed_reply.subscription
    assert resumed_subscription is not None, resumed_result
    await main.ping()
    replayed_for_unknown_epoch = [m for m in main.received if m.get("t") == "event" and m.get("seq", 0) > 1]
    await replay.send(main, replay.find("unsub"))
    main.channels[resumed_subscription.ch].remove(resumed_subscription)

    # §13: pub (id 5) to a channel two connections listen to.
    listeners: list[Subscription] = []
    for peer in (main, helper):
        listening = await peer.subscribe("chat.typing", {"room": "lobby"})
        assert isinstance(listening, Subscription), listening
        listeners.append(listening)
    published = main.expect_reply(5)
    await replay.send(main, replay.find("pub"))
    replay.compare(replay.find("result", lambda m: m["id"] == 5), (await published).message, exact=True)
    own_typing = await asyncio.wait_for(listeners[0].events.get(), 5)

    # §15: stream (id 6) granting 32, items, credit 16, the end.
    stream_example = replay.find("stream")
    running = Stream(6, stream_example.message["credit"], main.expect_reply(6))
    main.streams[6] = running
    await replay.send(main, stream_example)
    items = [await asyncio.wait_for(running.items.get(), 5) for _ in range(running.granted)]
    item_example = replay.find("item")
    for data in items:
        replay.compare(item_example, {"t": "item", "id": 6, "data": data}, exact=False)
    credit_example = replay.find("credit")
    running.granted += credit_example.message["n"]
    await replay.send(main, credit_example)
    end = await asyncio.wait_for(running.end, 5)
    items.extend(running.items.get_nowait() for _ in range(running.items.qsize()))
    for data in items[stream_example.message["credit"]:]:
        replay.compare(item_example, {"t": "item", "id": 6, "data": data}, exact=False, note="after the credit")
    replay.compare(replay.find("result", lambda m: m["id"] == 6), end.message, exact=True)

    # §7: ping and pong, and a pong nobody asked for (ignored).
    pong_example = replay.find("pong")
    before = len(main.received)
    pong = main.expect_pong()
    await replay.send(main, replay.find("ping"))
    await asyncio.wait_for(pong, 5)
    replay.compare(pong_example, main.received[before], exact=True)
    await replay.send(main, pong_example)
    await main.ping()

    return {
        "checks": replay.checks,
        "sent": replay.sent,
        "lines": [e.line for e in replay.examples],
        "issuePaths": issue_paths,
        "placed": placed_reply,
        "aborted": aborted.message,
        "framesForCancelledId": for_cancelled,
        "eventsAfterUnsub": after_unsub,
        "replayedForUnknownEpoch": replayed_for_unknown_epoch,
        "resumedFrom": replay.find("sub", lambda m: "resume" in m).message["resume"],
        "ownTyping": own_typing,
        "streamItems": len(items),
        "violations": main.violations + helper.violations,
        "lateReplies": main.late_replies,
    }
