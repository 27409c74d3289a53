"""What every flow of scenario.py shares: its connections and small waiting helpers."""

from __future__ import annotations

import asyncio
from typing import Any

from patchbay_peer import Encoding, Peer, Reply, Subscription

Report = dict[str, Any]


class Context:
    """One flow's run: the server's address, the encoding, and the connections it opened
    (closed after the flow, whatever happened)."""

    def __init__(self, url: str, encoding: Encoding, doc: str) -> None:
        self.url = url
        self.encoding = encoding
        self.doc = doc
        self.peers: list[Peer] = []

    async def peer(self, first_id: int = 1) -> Peer:
        opened = await Peer.connect(self.url, self.encoding, first_id=first_id)
        self.peers.append(opened)
        return opened

    def name(self, base: str) -> str:
        """A room or symbol of this run's own, so flows never share a channel."""
        return f"{base}-{self.encoding}"

    async def dispose(self) -> None:
        for opened in self.peers:
            if not opened.ws.closed:
                await opened.close()
        self.peers.clear()


async def next_item(items: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(items.get(), 5)


async def next_event(subscription: Subscription) -> dict[str, Any]:
    return await asyncio.wait_for(subscription.events.get(), 5)


def drain(queue: asyncio.Queue[Any]) -> list[Any]:
    """What a queue holds now (call after a ping barrier)."""
    found = []
    while not queue.empty():
        found.append(queue.get_nowait())
    return found


def ensure_subscribed(result: Subscription | Reply) -> Subscription:
    if isinstance(result, Reply):
        raise AssertionError(f"sub failed: {result.message}")
    return result


def health(peer: Peer) -> dict[str, Any]:
    """What every flow reports about its peer's view of the server."""
    return {"violations": peer.violations, "lateReplies": peer.late_replies}
