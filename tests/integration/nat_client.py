"""One media client of test_nat.py, run inside the client's network namespace (`ip netns
exec`), so that its only way to the bridge is the address the bridge advertises:

    nat_client.py publish|view WS_URL ROOM HOST_ADDRESS

publish: joins as a participant and publishes until killed. view: joins as a visitor
(following the redirect), waits for video frames from the publisher, and prints one JSON
line: the candidate addresses of the offer and the frames decoded. ICE gathers only
HOST_ADDRESS (IPv4 or IPv6): the family this client reaches the bridge with."""

import asyncio
import json
import sys

import aioice.ice

import media_client
from conftest import Client
from media_client import Publisher, Subscriber, candidate_addresses, close_media

MODE, URL, ROOM, HOST = sys.argv[1:5]
# media_client pins ICE to 127.0.0.1; this namespace's one address is HOST.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: [HOST]


async def join(url, name, visitor):
    c = await Client.connect(url, label=name)
    ans = await c.join({"type": "join", "room": ROOM, "name": name, "visitor": visitor})
    if ans.get("type") == "redirect":
        await c.close()
        c = await Client.connect(ans["url"], label=name)
        ans = await c.join({"room": ROOM, "name": name, "ticket": ans["ticket"]})
    assert ans.get("type") == "joined", ans
    c.joined = ans
    return c


async def main():
    if MODE == "publish":
        c = await join(URL, "Ann", False)
        pub = Publisher(c)
        ans = await pub.publish()
        print(json.dumps({"published": True,
                          "candidates": candidate_addresses(ans["sdp"])}), flush=True)
        await pub.wait_connected()
        print(json.dumps({"connected": True}), flush=True)
        await asyncio.sleep(120)  # the test kills it
        return
    c = await join(URL, "Vic", True)
    sub = Subscriber(c)
    try:
        await sub.wait_video_frames(20)
        print(json.dumps({"candidates": candidate_addresses(sub.offer),
                          "frames": sum(r.frames for r in sub.by_stream.values())}),
              flush=True)
    finally:
        await close_media(sub)
        await c.close()


assert media_client  # imported for its ICE pin and aiortc fixes, replaced above
asyncio.run(main())
