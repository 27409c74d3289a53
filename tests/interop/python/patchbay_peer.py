"""A Patchbay test peer in Python, written from docs/protocol.md alone.

Not a product: a second implementation of the wire contract that the test suite drives
against a real server, so that what the document says (and what it leaves unsaid) is
tested by code nobody wrote from the TypeScript. Section numbers cite docs/protocol.md.

Needs Debian's python3-websockets (10.x) and python3-msgpack (1.0.x).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

import msgpack
import websockets.client
from websockets.exceptions import ConnectionClosed

Encoding = Literal["json", "msgpack"]
Frame = Union[str, bytes]
Message = dict[str, Any]

# §2: the subprotocol names the encoding; the encoding fixes the frame kind.
SUBPROTOCOLS: dict[str, str] = {"json": "patchbay.v1.json", "msgpack": "patchbay.v1.msgpack"}
MAX_SAFE_INTEGER = 2**53 - 1  # §4.1
# §8 close codes this peer sends itself.
CLOSE_NORMAL = 1000
CLOSE_BAD_REQUEST = 4400
CLOSE_SUBPROTOCOL = 4406

ABSENT: Any = object()  # marks an optional field left out of a message

# §3: every message is an array, its type's tag first, then its fields in this order.
TAGS: dict[str, int] = {
    "call": 1, "result": 2, "error": 3, "cancel": 4, "ping": 5, "pong": 6, "sub": 7,
    "unsub": 8, "pub": 9, "event": 10, "lag": 11, "stream": 12, "credit": 13, "item": 14,
}
TYPES: dict[int, str] = {tag: name for name, tag in TAGS.items()}
FIELDS: dict[str, tuple[str, ...]] = {
    "call": ("id", "path", "meta", "input"),
    "result": ("id", "output"),
    "error": ("id", "error"),
    "cancel": ("id",),
    "ping": (),
    "pong": (),
    "sub": ("id", "path", "meta", "params"),
    "unsub": ("id",),
    "pub": ("id", "path", "meta", "data", "params"),
    "event": ("ch", "seq", "data"),
    "lag": ("ch", "seq", "missed", "epoch"),
    "stream": ("id", "path", "meta", "credit", "input"),
    "credit": ("id", "n"),
    "item": ("id", "data"),
}
# §3.2: a request's optional, non-payload fields travel in its meta map (element 3).
META_KEYS: dict[str, tuple[str, ...]] = {
    "call": ("key", "traceparent", "tracestate"),
    "sub": ("resume", "traceparent", "tracestate"),
    "pub": ("traceparent", "tracestate"),
    "stream": ("received", "traceparent", "tracestate"),
}
SERVER_TYPES = {"result", "error", "event", "lag", "item", "ping", "pong"}


class ProtocolViolation(Exception):
    """A server frame this peer refuses (§3: it then closes with 4400)."""


def present(message: Message, name: str) -> bool:
    return name in message and message[name] is not ABSENT


def to_wire(message: Message) -> list[Any]:
    """The array of a message written as {"t": type, field: value, ...} (§3).

    A trailing absent field is left off (§3.1); the meta is null when the request carries
    none of its keys, and written only when something follows it (§3.2). A payload that is
    present is written as it is, None (null) included."""
    kind = message["t"]
    elements: list[Any] = [TAGS[kind]]
    for name in FIELDS[kind]:
        if name == "meta":
            meta = {key: message[key] for key in META_KEYS[kind] if present(message, key)}
            elements.append(meta or None)
        else:
            elements.append(message[name] if present(message, name) else ABSENT)
    while len(elements) > 1 and (elements[-1] is ABSENT or (kind in META_KEYS and len(elements) == 4 and elements[-1] is None)):
        elements.pop()
    # Only the meta and a new-epoch lag's `missed` are null for "absent" (§3.1).
    return [None if element is ABSENT else element for element in elements]


def as_tag(value: Any) -> Optional[int]:
    """Element 0 as an integer tag, as §4.1 reads integers (an integral float counts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def from_wire(frame: Any) -> Message:
    """A decoded array as {"t": type, field: value, ...}: a field is there only when its
    element is; meta keys sit beside the fields, and a lag's null `missed` or `epoch` is
    left out (§3, §14). Elements past the ones a type defines are ignored (§3.1)."""
    if not isinstance(frame, list):
        raise ProtocolViolation("message is not an array")
    tag = as_tag(frame[0]) if frame else None
    if tag is None:
        raise ProtocolViolation("message has no type")
    kind = TYPES.get(tag)
    if kind is None:
        raise ProtocolViolation("unknown message type")
    message: Message = {"t": kind}
    for at, name in enumerate(FIELDS[kind], start=1):
        if at >= len(frame):
            break
        value = frame[at]
        if name == "meta":
            if isinstance(value, dict):
                message.update(value)
        elif not (kind == "lag" and value is None):
            message[name] = value
    return message


def encode(encoding: Encoding, message: Union[Message, list[Any]]) -> Frame:
    """One message as one frame: JSON text, or MessagePack bytes (§2, §3). A list is sent
    as the array it is (for frames the document calls violations)."""
    value = message if isinstance(message, list) else to_wire(message)
    if encoding == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return msgpack.packb(value, use_bin_type=True)


def decode(encoding: Encoding, frame: Frame) -> Message:
    """A server frame as a message, or ProtocolViolation (§2 frame kinds, §3 envelope)."""
    if encoding == "json":
        if not isinstance(frame, str):
            raise ProtocolViolation("a binary frame under patchbay.v1.json")
        try:
            value = json.loads(frame)
        except ValueError as error:
            raise ProtocolViolation(f"invalid JSON: {error}") from None
    else:
        if not isinstance(frame, bytes):
            raise ProtocolViolation("a text frame under patchbay.v1.msgpack")
        try:
            # unpackb refuses trailing bytes (ExtraData), as §3 requires.
            value = msgpack.unpackb(frame, raw=False)
        except (ValueError, msgpack.UnpackException) as error:
            raise ProtocolViolation(f"invalid MessagePack: {error!r}") from None
    message = from_wire(value)
    if message["t"] not in SERVER_TYPES:
        raise ProtocolViolation("unknown message type")  # §3: a client type from a server
    return message


def as_id(value: Any) -> Optional[int]:
    """A request id (§4.1) as an int, or None when it is not one.

    §4.1 also says msgpackr writes integers above 2^32 - 1 as float64, so an integral
    float is accepted as the integer it holds (a strict reading of "an integer in both
    encodings" would refuse the server's own replies).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_SAFE_INTEGER:
        return value
    return None


EPOCH = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""An epoch as §12.1 allows it."""


def as_positive(value: Any) -> Optional[int]:
    """A positive safe integer (ch, seq of an event, §12), or None."""
    number = as_id(value)
    return number if number is not None and number > 0 else None


@dataclass
class Reply:
    """The one `result` or `error` a call, sub or pub gets (§4, §6)."""

    message: Message
    subscription: Optional[Subscription] = None  # filed for a successful sub (§12)

    @property
    def ok(self) -> bool:
        return self.message["t"] == "result"

    @property
    def output(self) -> Any:
        return self.message.get("output")

    @property
    def error(self) -> dict[str, Any]:
        return self.message.get("error", {})


@dataclass
class Subscription:
    """A live `sub` (§12): its channel number and the events received for it."""

    id: int
    ch: int
    seq: int
    epoch: str
    events: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)


@dataclass
class Stream:
    """A running `stream` (§15): items as they come, credit granted, and its end."""

    id: int
    granted: int
    end: asyncio.Future[Reply]
    items: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    received: int = 0


class Peer:
    """One connection: sends messages, correlates replies by id, routes events by channel."""

    def __init__(self, ws: websockets.client.WebSocketClientProtocol, encoding: Encoding, first_id: int) -> None:
        self.ws = ws
        self.encoding = encoding
        self.next_id = first_id
        self.received: list[Message] = []  # every server message, in order
        self.late_replies: list[Message] = []  # §4: replies for ids nobody waits for
        self.ignored_events: list[Message] = []  # §12: events for channels not listened to
        self.violations: list[str] = []  # server frames refused (then closed 4400)
        self.pending: dict[int, asyncio.Future[Reply]] = {}
        self.subscribing: set[int] = set()  # ids of `sub`s awaiting their result
        self.streams: dict[int, Stream] = {}
        self.channels: dict[int, list[Subscription]] = {}
        self.pongs: list[asyncio.Future[None]] = []
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, url: str, encoding: Encoding, *, first_id: int = 1, offer: Optional[list[str]] = None) -> Peer:
        """Opens a connection offering the encoding's subprotocol (§2) and checks the answer."""
        offered = offer if offer is not None else [SUBPROTOCOLS[encoding]]
        # No library keepalive: the server's ping frames are answered by websockets itself (§7).
        ws = await websockets.client.connect(url, subprotocols=offered, ping_interval=None, open_timeout=5, close_timeout=2)  # type: ignore[arg-type]
        if ws.subprotocol != SUBPROTOCOLS[encoding]:
            await ws.close(CLOSE_SUBPROTOCOL, "subprotocol not acceptable")  # §2
            raise ProtocolViolation(f"server chose {ws.subprotocol!r}")
        return cls(ws, encoding, first_id)

    # ---- sending -----------------------------------------------------------------------

    def take_id(self) -> int:
        taken = self.next_id
        self.next_id += 1
        return taken

    async def send(self, message: Union[Message, list[Any]]) -> None:
        """Sends a message written as {"t": type, ...}, or an array as it is."""
        await self.ws.send(encode(self.encoding, message))

    async def send_raw(self, frame: Frame) -> None:
        """Sends bytes or text as they are (documented examples, violations)."""
        await self.ws.send(frame)

    def expect_reply(self, request_id: int, *, subscribe: bool = False) -> asyncio.Future[Reply]:
        """The future of the reply to `request_id`; for a `sub`, its result files the
        subscription as it is read, since replayed events follow it at once (§12.1)."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        if subscribe:
            self.subscribing.add(request_id)
        return future

    async def request(self, message: Message) -> asyncio.Future[Reply]:
        """Sends a call, sub or pub and returns the future of its reply."""
        future = self.expect_reply(message["id"], subscribe=message["t"] == "sub")
        await self.send(message)
        return future

    async def start_call(self, path: str, input: Any = ABSENT, *, key: Any = ABSENT, id: Optional[int] = None) -> tuple[int, asyncio.Future[Reply]]:
        request_id = self.take_id() if id is None else id
        future = await self.request({"t": "call", "id": request_id, "path": path, "input": input, "key": key})
        return request_id, future

    async def call(self, path: str, input: Any = ABSENT, *, key: Any = ABSENT, id: Optional[int] = None) -> Reply:
        _, future = await self.start_call(path, input, key=key, id=id)
        return await future

    async def cancel(self, request_id: int) -> None:
        """§5: nothing more comes for the id, so the reply is no longer awaited."""
        self.pending.pop(request_id, None)
        self.streams.pop(request_id, None)
        self.subscribing.discard(request_id)
        await self.send({"t": "cancel", "id": request_id})

    async def subscribe(self, path: str, params: Any = ABSENT, *, resume: Any = ABSENT, id: Optional[int] = None) -> Union[Subscription, Reply]:
        """§12: a Subscription on success; the error Reply otherwise."""
        request_id = self.take_id() if id is None else id
        reply = await (await self.request({"t": "sub", "id": request_id, "path": path, "params": params, "resume": resume}))
        return reply.subscription or reply

    def listen(self, request_id: int, output: Any) -> Subscription:
        """Files a subscription under the channel its `sub` result named (§12)."""
        ch = as_positive(output.get("ch")) if isinstance(output, dict) else None
        seq = as_id(output.get("seq")) if isinstance(output, dict) else None
        epoch = output.get("epoch") if isinstance(output, dict) else None
        if ch is None or seq is None or not isinstance(epoch, str):
            raise ProtocolViolation(f"malformed sub result {output!r}")
        subscription = Subscription(request_id, ch, seq, epoch)
        self.channels.setdefault(ch, []).append(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        listeners = self.channels.get(subscription.ch, [])
        if subscription in listeners:
            listeners.remove(subscription)
        await self.send({"t": "unsub", "id": subscription.id})

    async def publish(self, path: str, params: Any, data: Any) -> Reply:
        """§13: answered like a call."""
        return await (await self.request({"t": "pub", "id": self.take_id(), "path": path, "params": params, "data": data}))

    async def stream(self, path: str, input: Any, credit: int, *, id: Optional[int] = None) -> Stream:
        """§15: starts a stream granting `credit` items."""
        request_id = self.take_id() if id is None else id
        running = Stream(request_id, credit, self.expect_reply(request_id))
        self.streams[request_id] = running
        await self.send({"t": "stream", "id": request_id, "path": path, "input": input, "credit": credit})
        return running

    async def credit(self, running: Stream, n: int) -> None:
        running.granted += n
        await self.send({"t": "credit", "id": running.id, "n": n})

    async def ping(self) -> None:
        """§7: a ping answered by a pong. Frames arrive in order (§10), so everything the
        server sent before the pong has been dispatched when this returns: a barrier."""
        future = self.expect_pong()
        await self.send({"t": "ping"})
        await future

    def expect_pong(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pongs.append(future)
        return future

    async def close(self) -> None:
        await self.ws.close(CLOSE_NORMAL)
        await self.reader

    async def closed(self) -> tuple[Optional[int], str]:
        """Waits for the server to close; its close code and reason."""
        await self.ws.wait_closed()
        await self.reader
        return self.ws.close_code, self.ws.close_reason

    # ---- receiving ---------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                try:
                    self._dispatch(decode(self.encoding, frame))
                except ProtocolViolation as violation:
                    self.violations.append(str(violation))
                    await self.ws.close(CLOSE_BAD_REQUEST, "bad frame")
                    break
        except ConnectionClosed:
            pass
        finally:
            self._fail_all()

    def _fail_all(self) -> None:
        gone = ConnectionError(f"connection closed ({self.ws.close_code})")
        for future in [*self.pending.values(), *self.pongs]:
            if not future.done():
                future.set_exception(gone)
                future.exception()  # retrieved: a request nobody awaits any more is no error
        self.pending.clear()
        self.pongs.clear()

    def _dispatch(self, message: Message) -> None:
        self.received.append(message)
        kind = message["t"]
        if kind in ("result", "error"):
            self._on_reply(message)
        elif kind == "item":
            self._on_item(message)
        elif kind in ("event", "lag"):
            self._on_channel(message)
        elif kind == "pong":
            if self.pongs:
                self.pongs.pop(0).set_result(None)
        elif kind == "ping":
            asyncio.get_running_loop().create_task(self.send({"t": "pong"}))
        else:
            raise ProtocolViolation(f"unknown message type {kind!r}")

    def _on_reply(self, message: Message) -> None:
        request_id = as_id(message.get("id"))
        if request_id is None:
            raise ProtocolViolation(f"reply without a valid id: {message!r}")
        if message["t"] == "error":
            error = message.get("error")
            if not isinstance(error, dict) or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
                raise ProtocolViolation(f"malformed error {message!r}")
        self.streams.pop(request_id, None)
        future = self.pending.pop(request_id, None)
        if future is None:
            self.late_replies.append(message)  # §4: dropped and counted, not an error
            return
        reply = Reply(message)
        if request_id in self.subscribing:
            self.subscribing.discard(request_id)
            if reply.ok:
                reply.subscription = self.listen(request_id, reply.output)
        future.set_result(reply)

    def _on_item(self, message: Message) -> None:
        request_id = as_id(message.get("id"))
        running = self.streams.get(request_id) if request_id is not None else None
        if running is None:
            self.late_replies.append(message)
            return
        running.received += 1
        if running.received > running.granted:
            raise ProtocolViolation(f"item {running.received} of stream {running.id} past the {running.granted} granted")  # §15
        running.items.put_nowait(message.get("data"))

    def _on_channel(self, message: Message) -> None:
        ch = as_positive(message.get("ch"))
        if message["t"] == "lag" and "epoch" in message:
            # §14: a new epoch; its latest seq may be 0, and no count goes with it.
            epoch = message["epoch"]
            seq = as_id(message.get("seq"))
            if not isinstance(epoch, str) or EPOCH.fullmatch(epoch) is None or "missed" in message:
                seq = None
        else:
            seq = as_positive(message.get("seq"))
        # An event may end after seq: its message was no value (§3.1, §12).
        if ch is None or seq is None:
            raise ProtocolViolation(f"malformed {message['t']}: {message!r}")
        listeners = self.channels.get(ch)
        if not listeners:
            self.ignored_events.append(message)  # §12: it may cross an unsub
            return
        for subscription in listeners:
            subscription.events.put_nowait(message)
