"""The bridge's own share of the delay: amphi_bridge_hop_seconds on its /metrics, a histogram
of the time from each forwarded packet's arrival to its send."""

import re

from conftest import close_all, http, join, run
from media_client import Publisher, Subscriber, close_media, metrics, start_media_amphi
from test_media import publish

ROOM = "acme/hop"
NAME = "amphi_bridge_hop_seconds"


def hop_histogram(url):
    """({le: cumulative count}, sum, count) of the bridge's hop histogram."""
    status, _, body = http("GET", url + "/metrics")
    assert status == 200
    text = body.decode()
    assert "# TYPE %s histogram" % NAME in text, text
    buckets = {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^%s_bucket\{[^}]*le="([^"]+)"\} (\d+)$' % NAME, text, re.M)}
    total = float(re.search(r"^%s_sum\{[^}]*\} (\S+)$" % NAME, text, re.M).group(1))
    count = int(re.search(r"^%s_count\{[^}]*\} (\d+)$" % NAME, text, re.M).group(1))
    return buckets, total, count


def test_hop_histogram_counts_forwarded_packets(amphi):
    srv = start_media_amphi(amphi, "--max-participants", 2)

    async def body():
        a = await join(srv, ROOM, "Ada")
        b = await join(srv, ROOM, "Bob")
        pa, sb = Publisher(a), Subscriber(b)
        try:
            url = srv.bridge_urls[0]
            _, _, before = hop_histogram(url)
            assert before == 0
            await publish(pa, srv.media_port)
            await sb.wait_video_frames(20, publisher=a.joined["id"])
            buckets, total, count = hop_histogram(url)
            out = metrics(url)["amphi_rtp_packets_out_total"]
            # every live packet sent to Bob is counted, and nothing else (resends are not)
            assert 0 < count <= out, (count, out)
            assert count >= out - metrics(url)["amphi_rtp_retransmits_total"] - 50, (count, out)
            les = sorted((float(k), v) for k, v in buckets.items() if k != "+Inf")
            assert buckets["+Inf"] == count, buckets
            assert all(x[1] <= y[1] for x, y in zip(les, les[1:])), les  # cumulative
            # on an idle loopback bridge a hop takes well under 10 ms, even under ASan
            assert 0 < total / count < 0.01, (total, count)
            assert dict(les)[0.01] >= 0.95 * count, buckets
        finally:
            await close_media(pa, sb)
            await close_all(a, b)

    run(body(), 60)
