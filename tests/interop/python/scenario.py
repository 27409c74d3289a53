"""Flows a second implementation must get right, run by the Python peer against a real server.

    python3 scenario.py --url ws://127.0.0.1:PORT --encoding json|msgpack --group main|integers --doc docs/protocol.md

Prints one JSON object on stdout: {flow name: observations}. A flow that raises reports
{"failed": "..."} instead, and the others still run. The observations are raw (frames,
close codes, what arrived before a barrier), so the assertions live in the vitest file
(tests/interop/python-client.test.ts, tests/interop/python-support.ts) where a failure shows what was received.

The server's router is the one the vitest file builds; the paths are those of the examples
in docs/protocol.md (math.add, orders.place, reports.build, chat.room, chat.typing,
market.ticks) plus test hooks (held.wait/held.open, chat.say, reports.aborted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
from typing import Awaitable, Callable

import flows
import integers
from context import Context, Report
from patchbay_peer import Encoding

FLOW_TIMEOUT_S = 8.0

FLOWS: dict[str, dict[str, Callable[[Context], Awaitable[Report]]]] = {
    "main": {
        "call": flows.flow_call,
        "outOfOrder": flows.flow_out_of_order,
        "errors": flows.flow_errors,
        "meta": flows.flow_meta,
        "cancel": flows.flow_cancel,
        "resume": flows.flow_resume,
        "resumeGap": flows.flow_resume_gap,
        "stream": flows.flow_stream,
        "pub": flows.flow_pub,
        "ping": flows.flow_ping,
        "handshake": flows.flow_handshake,
        "violations": flows.flow_violations,
        "examples": flows.flow_examples,
    },
    "integers": {
        "bigId": integers.flow_int_big_id,
        "bigInput": integers.flow_int_big_input,
        "bigCredit": integers.flow_int_big_credit,
        "smallWide": integers.flow_int_small_wide,
        "bigMessage": integers.flow_int_big_message,
    },
}


async def run(url: str, encoding: Encoding, group: str, doc: str) -> Report:
    report: Report = {}
    for name, flow in FLOWS[group].items():
        ctx = Context(url, encoding, doc)
        try:
            report[name] = await asyncio.wait_for(flow(ctx), FLOW_TIMEOUT_S)
        except Exception as error:  # report it; the other flows still run
            report[name] = {"failed": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        finally:
            await ctx.dispose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--encoding", choices=["json", "msgpack"], required=True)
    parser.add_argument("--group", choices=list(FLOWS), default="main")
    parser.add_argument("--doc", required=True)
    args = parser.parse_args()
    report = asyncio.run(run(args.url, args.encoding, args.group, args.doc))
    # bytes (msgpack bin) cannot go into JSON; the flows never expect any.
    json.dump(report, sys.stdout, default=repr)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
