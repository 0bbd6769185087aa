"""`make install` into a staging folder (DESTDIR), then a cluster made by the installed
`amphi configure --prefix` and run by the commands of its systemd units, from the installed
files only: the installed web client is what the nodes serve, a visitor joins through the
main node and chats."""

import asyncio
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import (AMPHI_BIN, check_sanitizers, free_port_range, http, join, run,
                      sanitizer_env)
from test_cluster import NATS

PREFIX = "/opt/amphi"
MARK = "<!-- installed copy -->"


def install(build_dir, stage):
    """What `make install DESTDIR=stage PREFIX=/opt/amphi` runs after the build."""
    env = dict(sanitizer_env(), DESTDIR=stage)
    out = subprocess.run(["cmake", "--install", build_dir, "--prefix", PREFIX],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return stage + PREFIX


def test_install_then_run_a_cluster_from_the_installed_files(tmp_path):
    if not NATS:
        pytest.skip("nats-server is not installed")
    root = install(os.path.dirname(AMPHI_BIN), str(tmp_path / "stage"))
    for f in ("bin/amphi", "share/amphi/web/index.html", "share/amphi/web/js/app.js",
              "share/amphi/examples/main.conf.example", "share/amphi/examples/bridge.conf.example",
              "share/doc/amphi/amphi-serve.txt", "share/doc/amphi/amphi-configure.txt",
              "share/doc/amphi/OPERATIONS.md"):
        assert os.path.isfile(os.path.join(root, f)), f
    with open(os.path.join(root, "share/doc/amphi/amphi-serve.txt")) as f:
        assert "usage: amphi serve" in f.read()
    with open(os.path.join(root, "share/amphi/web/index.html"), "a") as f:
        f.write(MARK + "\n")

    amphi = os.path.join(root, "bin", "amphi")
    port = free_port_range(4)
    out_dir = str(tmp_path / "cluster")
    out = subprocess.run([amphi, "configure", "--visitor-nodes", "1", "--bridges", "0",
                          "--prefix", root, "--base-port", str(port), "--out", out_dir],
                         capture_output=True, text=True, timeout=30, env=sanitizer_env(),
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr

    def exec_of(unit):  # the unit's command, with the folder where it is, not /etc/amphi
        with open(os.path.join(out_dir, "systemd", unit)) as f:
            cmd = re.search(r"^ExecStart=(.*)$", f.read(), re.M).group(1)
        return cmd.replace("/etc/amphi", out_dir).split()

    # The units are ones systemd takes (where this machine has systemd-analyze).
    analyze = shutil.which("systemd-analyze")
    if analyze:
        units = sorted(os.path.join(out_dir, "systemd", u) for u in os.listdir(os.path.join(out_dir, "systemd")))
        v = subprocess.run([analyze, "verify", "--man=no"] + units, capture_output=True, text=True,
                           timeout=60)
        assert v.returncode == 0, v.stdout + v.stderr
    node_cmds = [exec_of("amphi-%s.service" % n) for n in ("main", "visitor-1")]
    assert all(c[0] == amphi for c in node_cmds), node_cmds
    procs, logs = [], []
    nats_log = open(str(tmp_path / "nats.log"), "wb")
    nats = subprocess.Popen([NATS, "-c", os.path.join(out_dir, "nats-server.conf")],
                            stdout=nats_log, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        for i, cmd in enumerate(node_cmds):
            err = str(tmp_path / ("node%d.stderr" % i))
            logs.append(err)
            with open(err, "wb") as f:
                procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=f,
                                              env=sanitizer_env(), cwd=str(tmp_path)))
        for node in (0, 1):
            deadline = time.monotonic() + 15
            while True:
                try:
                    status, _, body = http("GET", "http://127.0.0.1:%d/" % (port + node),
                                           timeout=1)
                    if status == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "node %d never served /" % node
                time.sleep(0.05)
            assert MARK in body.decode(), "node %d serves another web client" % node

        class Server:
            def ws_url(self):
                return "ws://127.0.0.1:%d/ws" % port
        Server.port = port

        async def body():
            ada = await join(Server(), "acme/installed", "Ada")
            deadline = time.monotonic() + 10
            while True:  # until the main node has heard the visitor node's heartbeat
                try:
                    vic = await join(Server(), "acme/installed", "Vic", visitor=True)
                    break
                except AssertionError:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
            assert vic.node == 1
            assert (await vic.request({"type": "chat", "text": "from the install"}))["type"] == "ok"
            await ada.wait_for(lambda m: m.get("type") == "chat"
                               and m["message"]["text"] == "from the install")
            await ada.close()
            await vic.close()
        run(body(), timeout=60)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                p.kill()
        nats.terminate()
        nats.wait(timeout=5)
        nats_log.close()
    for p, err in zip(procs, logs):
        assert p.returncode == 0, open(err).read()[-2000:]
        check_sanitizers(err)
    shutil.rmtree(str(tmp_path / "stage"), ignore_errors=True)
