"""The WebSocket frame layer (RFC 6455 §5) on the main node and on a visitor node: a client's
frames that break the RFC close its connection with 1002 (and nothing it sent after them is
taken), what it may send (fragments, pings, a close, a frame trickled byte by byte) works,
and another client of the room notices nothing either way."""

import asyncio
import json
import time

import pytest

from conftest import Client, RawWS, run_with_clients

ROOM = "acme/frames"


async def raw_joined(srv, visitor):
    """A RawWS joined to ROOM: a participant on the main node, or a visitor redirected to a
    visitor node (its ticket used there)."""
    port, join = srv.port, {"type": "join", "room": ROOM, "name": "Raw"}
    if visitor:
        c = await Client.connect(srv.ws_url())
        r = await c.join({"room": ROOM, "name": "Raw", "visitor": True})
        await c.close()
        assert r["type"] == "redirect", r
        port = int(r["url"].rsplit(":", 1)[1].split("/")[0])
        join["ticket"] = r["ticket"]

    def connect():
        raw = RawWS(port)
        raw.send_all([json.dumps(join)])
        joined = raw.read_text()
        assert joined["type"] == "joined", joined
        return raw

    return await asyncio.to_thread(connect)


async def observer_unharmed(obs):
    text = "still here %f" % time.monotonic()
    ok = await obs.request({"type": "chat", "text": text})
    assert ok["type"] == "ok", ok
    await obs.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == text)
    assert not obs.errors(), obs.errors()


def read_until_pong(raw, rid, want_ws_pong=None):
    """Frames until the pong answering the ping `rid` (room events may come between); the
    frames read, checked to hold a WebSocket pong with payload want_ws_pong if given."""
    got = []
    while not any(op == 1 and json.loads(p).get("id") == rid for op, p in got):
        got.append(raw.read_frame())
    if want_ws_pong is not None:
        assert (10, want_ws_pong) in got, got
    return got


def close_frame_of(frames):
    """The code and reason of the close frame among frames (there must be one)."""
    closes = [p for op, p in frames if op == 8]
    assert len(closes) == 1, frames
    return int.from_bytes(closes[0][:2], "big"), closes[0][2:].decode()


def run_frames_case(amphi, body):
    srv = amphi("--max-participants", 4, visitor_nodes=1)

    async def go(clients):
        obs = await clients.join(srv, ROOM, "Obs")
        for visitor in (False, True):
            await body(srv, obs, visitor)
            await observer_unharmed(obs)

    run_with_clients(go)


BAD_FRAMES = {
    # §5.1: "a server MUST close the connection upon receiving a frame that is not masked"
    "unmasked": (RawWS.frame('{"type":"ping","id":"u"}', masked=False), "masked"),
    # §5.2: reserved bits without an extension that defines them
    "rsv": (RawWS.frame('{"type":"ping","id":"r"}', rsv=4), "reserved"),
    # §5.2: opcodes 3-7 and 0xB-0xF are reserved
    "opcode": (RawWS.frame("x", opcode=3), "opcode"),
    "control opcode": (RawWS.frame("x", opcode=0xB), "opcode"),
    # §5.4: a continuation with no message begun
    "continuation": (RawWS.frame("x", opcode=0), "continuation"),
    # §5.4: a new message while a fragmented one is open
    "interleaved": (RawWS.frame("{", fin=False) + RawWS.frame("x"), "inside"),
    # §5.5: control frames are never fragmented
    "fragmented ping": (RawWS.frame("p", opcode=9, fin=False), "malformed"),
    # §5.2: a length in a longer form than it needs
    "long form": (bytes([0x81, 0x80 | 127]) + (5).to_bytes(8, "big") + b"\0\0\0\0hello",
                  "malformed"),
    # §7.4.1: 1005 is never sent in a close frame
    "close 1005": (RawWS.frame((1005).to_bytes(2, "big"), opcode=8), "close code"),
    "close one byte": (RawWS.frame(b"\x03", opcode=8), "one byte"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_a_frame_against_the_rfc_closes_with_1002(amphi, case):
    data, why = BAD_FRAMES[case]

    async def body(srv, obs, visitor):
        raw = await raw_joined(srv, visitor)
        try:
            # A ping after the bad frame, in the same write, must not be answered.
            after = RawWS.frame(json.dumps({"type": "ping", "id": "after"}))
            await asyncio.to_thread(raw.send_bytes, data + after)
            frames = await asyncio.to_thread(raw.read_until_end)
        finally:
            raw.close()
        code, reason = close_frame_of(frames)
        assert code == 1002, (case, code, reason)
        assert why in reason, (case, reason)
        texts = [json.loads(p) for op, p in frames if op == 1]
        assert not [m for m in texts if m.get("id") == "after"], texts

    run_frames_case(amphi, body)


def test_what_a_client_may_send(amphi):
    """A message in three fragments with a ping between them, sent a byte at a time; a ping
    with a payload gets that payload back; a close frame is answered with its code."""

    async def body(srv, obs, visitor):
        raw = await raw_joined(srv, visitor)
        try:
            msg = json.dumps({"type": "ping", "id": "frag"})
            data = (RawWS.frame(msg[:5], fin=False) + RawWS.frame(b"k1", opcode=9) +
                    RawWS.frame(msg[5:12], opcode=0, fin=False) +
                    RawWS.frame(msg[12:], opcode=0))

            def trickle():
                for i in range(len(data)):
                    raw.send_bytes(data[i:i + 1])
                    time.sleep(0.002)
                got = read_until_pong(raw, "frag", want_ws_pong=b"k1")
                raw.send_bytes(RawWS.frame((1000).to_bytes(2, "big") + b"bye", opcode=8))
                return got, raw.read_until_end()

            got, end = await asyncio.to_thread(trickle)
        finally:
            raw.close()
        pongs = [json.loads(p) for op, p in got if op == 1 and b'"pong"' in p]
        assert pongs == [{"type": "pong", "id": "frag"}], got
        code, _ = close_frame_of(end)
        assert code == 1000, end

    run_frames_case(amphi, body)


def test_an_idle_connection_is_read_again(amphi):
    """The reader lets go of its buffer between messages: a client silent for a while, then
    sending a frame split over two writes with a pause between, is still understood."""

    async def body(srv, obs, visitor):
        raw = await raw_joined(srv, visitor)
        try:
            f = RawWS.frame(json.dumps({"type": "ping", "id": "late"}))

            def later():
                time.sleep(0.3)
                raw.send_bytes(f[:3])
                time.sleep(0.3)
                raw.send_bytes(f[3:])
                return read_until_pong(raw, "late")

            await asyncio.to_thread(later)
        finally:
            raw.close()

    run_frames_case(amphi, body)
