"""Keep-alive (docs/PROTOCOL.md): a client silent for the ping time gets a WebSocket ping;
one that answers it (as browsers and the websockets library do by themselves) stays, one
that answers nothing is dropped after the hang-up time. The times are shortened with the
test-only flag --test-ping-after-ms (ping after 1 s, hang up after 2.5 s) instead of 30 s and
75 s."""

import asyncio
import time

from conftest import RawWS, join, run

HOOK = ("--test-ping-after-ms", 1000)


def test_silent_client_answering_pings_stays(amphi):
    srv = amphi("--max-participants", 1, *HOOK)

    async def body():
        a = await join(srv, "acme/quiet", "Ada")
        v = await join(srv, "acme/quiet", "Vic", visitor=True)
        # Silent for more than twice the hang-up time; the library answers the pings.
        await asyncio.sleep(6.5)
        assert not a.closed and not v.closed, (a.close_code, v.close_code)
        await a.ping()
        await v.ping()
        await a.close()
        await v.close()

    run(body(), 30)


def test_client_answering_nothing_is_dropped(amphi):
    srv = amphi(*HOOK)
    raw = RawWS(srv.port)
    raw.send_all(['{"type":"ping","id":"1"}'])
    start = time.monotonic()
    got = []
    raw.sock.settimeout(8)
    # Read frames (never answering a ping) until the server ends the connection.
    while time.monotonic() - start < 8:
        try:
            d = raw.sock.recv(4096)
        except OSError:
            break
        if not d:
            break
        got.append(d)
    took = time.monotonic() - start
    assert 2.0 <= took < 6.0, "dropped after %.1f s (hang-up at 2.5 s)" % took
    assert any(b"\x89" in d for d in got), "no ping frame was sent: %r" % got
    raw.close()
