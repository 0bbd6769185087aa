"""The proxy in front: `amphi configure --public-host` writes a whole nginx site (TLS on the
public port, the WebSocket routes) and every node's public_url as wss://... through it.
Debian's real nginx runs that site on loopback with a certificate the test makes; a
participant and a visitor join over wss://, the visitor is redirected through the proxy to
its visitor node, and they chat."""

import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.request

import pytest

from conftest import Client, free_port_range, run_with_clients
from test_cluster import NATS, Cluster, read_conf

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
ROOM = "acme/proxied"


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                          "1", "-subj", "/CN=localhost", "-addext",
                          "subjectAltName=DNS:localhost,IP:127.0.0.1",
                          "-keyout", key, "-out", cert], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    return cert, key


@pytest.fixture
def proxied(tmp_path):
    if not NATS or not NGINX:
        pytest.skip("nats-server or nginx is not installed")
    tmp = str(tmp_path)
    cert, key = make_cert(tmp)
    port = free_port_range(1)
    c = Cluster(tmp_path, max_participants=1, configure_args=[
        "--public-host", "localhost:%d" % port, "--tls-cert", cert, "--tls-key", key])
    nginx = None
    try:
        c.start()
        site = os.path.join(c.dir, "nginx-amphi-site.conf")
        with open(site) as f:
            text = f.read()
        # The site listens on every interface, as a public one does; the test on loopback.
        text = re.sub(r"^listen %d ssl;" % port, "listen 127.0.0.1:%d ssl;" % port, text,
                      flags=re.M)
        assert "listen 127.0.0.1:%d ssl;" % port in text
        with open(os.path.join(tmp, "site.conf"), "w") as f:
            f.write(text)
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write("user root;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/nginx.err;\n"
                    "events {}\nhttp {\naccess_log off;\n" % (tmp, tmp) +
                    "".join("%s_temp_path %s/%s;\n" % (k, tmp, k) for k in
                            ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")) +
                    "include %s/site.conf;\n}\n" % tmp)
        nginx = subprocess.Popen([NGINX, "-c", os.path.join(tmp, "nginx.conf"), "-p", tmp],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ctx = ssl.create_default_context(cafile=cert)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen("https://localhost:%d/healthz" % port,
                                            context=ctx, timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert nginx.poll() is None, nginx.stderr.read().decode()
            assert time.monotonic() < deadline, "nginx never answered"
            time.sleep(0.05)
        c.public = "localhost:%d" % port
        c.ssl = ctx
        yield c
    finally:
        if nginx:
            nginx.terminate()
            nginx.wait(timeout=5)
        c.stop()


def test_configure_writes_the_public_urls_and_site(proxied):
    c = proxied
    main = read_conf(os.path.join(c.dir, "main.conf"))
    assert main["public_url"] == "wss://%s/ws" % c.public
    for i in (1, 2):
        v = read_conf(os.path.join(c.dir, "visitor-%d.conf" % i))
        assert v["public_url"] == "wss://%s/v%d/ws" % (c.public, i)
    with open(os.path.join(c.dir, "nginx-amphi-site.conf")) as f:
        site = f.read()
    for want in ("ssl_certificate ", "location = /ws {", "location = /v2/ws {",
                 "proxy_set_header Upgrade $http_upgrade;", "proxy_read_timeout 1h;"):
        assert want in site, want
    assert "return 301" not in site  # only a site on 443 sends port 80 over


def test_join_redirect_and_chat_through_nginx_over_wss(proxied):
    c = proxied

    async def body(clients):
        url = "wss://%s/ws" % c.public
        ada = await Client.connect(url, "Ada", ssl=c.ssl)
        clients.append(ada)
        j = await ada.join({"room": ROOM, "name": "Ada"})
        assert j["type"] == "joined" and j["role"] == "participant", j
        probe = await Client.connect(url, "Vic", ssl=c.ssl)
        clients.append(probe)
        ans = await probe.join({"room": ROOM, "name": "Vic"})
        assert ans["type"] == "redirect", ans
        assert re.match(r"wss://%s/v[12]/ws$" % re.escape(c.public), ans["url"]), ans["url"]
        vic = await Client.connect(ans["url"], "Vic", ssl=c.ssl)
        clients.append(vic)
        j = await vic.join({"room": ROOM, "name": "Vic", "ticket": ans["ticket"]})
        assert j["type"] == "joined" and j["role"] == "visitor", j
        assert (await vic.request({"type": "chat", "text": "hello through nginx"}))["type"] == "ok"
        await ada.wait_for(lambda m: m.get("type") == "chat"
                           and m["message"]["text"] == "hello through nginx")
        assert (await ada.request({"type": "chat", "text": "and back"}))["type"] == "ok"
        await vic.wait_for(lambda m: m.get("type") == "chat" and m["message"]["text"] == "and back")
        # The web client comes through the same host.
        with urllib.request.urlopen("https://%s/acme/proxied" % c.public, context=c.ssl,
                                    timeout=5) as r:
            assert r.status == 200 and b"<html" in r.read().lower()

    run_with_clients(body, timeout=60)
