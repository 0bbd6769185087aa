"""Stopping and refusing to start (interfaces.md §1)."""

import asyncio
import signal
import subprocess
import time

import pytest

from conftest import AMPHI_BIN, Client, close_all, join, run, sanitizer_env, sanitizer_report

ROOM = "acme/townhall"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_tells_clients_and_exits_0(amphi, sig):
    srv = amphi("--max-participants", 1, visitor_nodes=2)

    async def body():
        clients = []
        try:
            clients.append(await join(srv, ROOM, "Ada"))
            for i in range(4):
                clients.append(await join(srv, ROOM, "V%d" % i))
            assert {c.node for c in clients} == {0, 1, 2}
            clients.append(await Client.connect(srv.ws_url(0), "idle-main"))
            clients.append(await Client.connect(srv.ws_url(1), "idle-v1"))
            for c in clients:
                await c.ping()

            t0 = time.monotonic()
            srv.proc.send_signal(sig)
            for c in clients:
                m = await c.wait_for("closed")
                assert m["type"] == "closed" and "reason" in m, m
                await c.wait_closed(timeout=5)
            rc = await asyncio.to_thread(srv.proc.wait, 5)
            assert rc == 0, rc
            assert time.monotonic() - t0 < 5
            # Nothing listens any more.
            for i in range(3):
                try:
                    await asyncio.wait_for(Client.connect(srv.ws_url(i)), 2)
                    raise AssertionError("node %d still accepts connections" % i)
                except (OSError, asyncio.TimeoutError):
                    pass
        finally:
            await close_all(*clients)

    run(body())


def test_signal_with_no_clients_exits_0_quickly(amphi):
    srv = amphi(visitor_nodes=1)
    t0 = time.monotonic()
    rc = srv.terminate(timeout=5)
    assert rc == 0 and time.monotonic() - t0 < 5, rc


def run_amphi(*args):
    r = subprocess.run([AMPHI_BIN, *args], capture_output=True, text=True, timeout=30,
                       env=sanitizer_env(), stdin=subprocess.DEVNULL)
    assert sanitizer_report(r.stderr) is None, r.stderr
    return r


@pytest.mark.parametrize("args,flag", [
    (["--max-participants", "x"], "--max-participants"),
    (["--max-participants", "-1"], "--max-participants"),
    (["--max-participants", "12abc"], "--max-participants"),
    (["--nope"], "--nope"),
    (["--nope", "1"], "--nope"),
    (["--port", "70000"], "--port"),
    (["--port"], "--port"),
    (["--visitor-nodes", "many"], "--visitor-nodes"),
    (["--log-level", "loud"], "--log-level"),
])
def test_bad_flags_exit_2_with_one_line(args, flag):
    r = run_amphi("run", "--listen", "127.0.0.1", *args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, (args, r.stderr)
    assert flag in lines[0], (args, lines[0])
    assert r.stdout == "", r.stdout  # it did not start
