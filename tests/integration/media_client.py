"""aiortc clients of the media bridge, for the integration tests (docs: the "Media" section
of the client protocol and the bridge decisions the tests are written against).

A Publisher sends a synthetic VP8 video (a moving pattern) and an Opus sine over its own
peer connection, negotiated with `publish`/`publish_answer`. A Subscriber answers every
`subscribe_offer` a Client receives and decodes what arrives, counting frames per m-line and
per publisher (the msid stream id, which is the publisher's participant id).

Importing this module pins ICE to 127.0.0.1 for the whole test process: aioice gathers every
address but loopback, and the tests must stay on loopback. No STUN server is ever configured.
"""

import asyncio
import collections
import fractions
import json
import re
import time

import aioice.ice
import numpy
from aiortc import (RTCConfiguration, RTCPeerConnection, RTCRtpSender,
                    RTCSessionDescription)
from aiortc.codecs import HEADER_EXTENSIONS
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from conftest import TIMEOUT, http, parse_metrics

# First frames through an ASan build of the bridge take a while: ICE, DTLS, a keyframe.
MEDIA_TIMEOUT = 30.0


# --- loopback only ---------------------------------------------------------------------


def _loopback_addresses(use_ipv4=True, use_ipv6=True):
    return ["127.0.0.1"]


# aioice looks the function up in its module on every gather, so replacing it there is
# enough; it also keeps aiortc off the machine's other interfaces.
aioice.ice.get_host_addresses = _loopback_addresses


AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
AUDIO_LEVEL_ID = 3


def _distinct_extension_ids():
    """aiortc 1.4 offers audio's ssrc-audio-level and video's abs-send-time with the same id
    (2) and parses all RTP of a BUNDLE with one id map, so it reads a 1-byte audio level as
    a 3-byte send time and its receive loop dies (aiortc issues 745, 778). RFC 8285 wants
    one id per extension across the bundle, as browsers do; give the audio level its own."""
    for ext in HEADER_EXTENSIONS["audio"]:
        if ext.uri == AUDIO_LEVEL_URI:
            ext.id = AUDIO_LEVEL_ID
    ids = {}
    for kind in HEADER_EXTENSIONS.values():
        for ext in kind:
            assert ids.setdefault(ext.id, ext.uri) == ext.uri, "extension ids still shared"


_distinct_extension_ids()


def rtc_configuration():
    """No ICE servers: only host candidates, so nothing leaves the machine."""
    return RTCConfiguration(iceServers=[])


def candidate_addresses(sdp):
    """The connection addresses of every a=candidate line of an SDP."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            out.append(line.split()[4])
    return out


# --- ports and the bridge's HTTP side --------------------------------------------------


def wait_healthy(url, role, timeout=15.0):
    """Until GET url/healthz answers 200 with that role."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, _, body = http("GET", url + "/healthz", timeout=1)
            last = (status, body)
            if status == 200 and json.loads(body).get("role") == role:
                return
        except (OSError, ValueError) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError("%s/healthz never answered as a %s: %r" % (url, role, last))


def metrics(url):
    """{name: value} of url/metrics."""
    status, _, body = http("GET", url + "/metrics")
    assert status == 200, "%s/metrics: %d %r" % (url, status, body[:200])
    return parse_metrics(body.decode())


def start_media_amphi(amphi, *flags, visitor_nodes=2, env=None):
    """`amphi run` with its bridges' candidates on 127.0.0.1 (the fixture picks the UDP
    ports: server.media_port). Adds server.bridge_urls, bridge j's HTTP side on P+K+j,
    each checked to answer /healthz as a bridge."""
    srv = amphi("--media-ip", "127.0.0.1", *flags, visitor_nodes=visitor_nodes, env=env)
    assert srv.media_port, "the fixture gave the bridges no --media-port"
    srv.bridge_urls = [srv.bridge_url("", j) for j in range(1, srv.bridges + 1)]
    for url in srv.bridge_urls:
        wait_healthy(url, "bridge")
    return srv


# --- SDP reading -----------------------------------------------------------------------


class MLine:
    """What the tests need of one m-section."""

    def __init__(self, kind, index):
        self.kind = kind
        self.index = index
        self.mid = None
        self.direction = "sendrecv"
        self.stream = None   # msid stream id: the publisher's participant id
        self.track = None    # msid track id
        self.ssrcs = []
        self.port = None

    def __repr__(self):
        return "<m=%s mid=%s %s msid=%s %s>" % (self.kind, self.mid, self.direction,
                                              self.stream, self.track)


DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def parse_mlines(sdp):
    """The m-sections of an SDP, in order."""
    lines, cur = [], None
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            cur = MLine(parts[0], len(lines))
            cur.port = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            lines.append(cur)
        elif cur is None:
            continue
        elif line.startswith("a=mid:"):
            cur.mid = line[6:]
        elif line[2:] in DIRECTIONS and line.startswith("a="):
            cur.direction = line[2:]
        elif line.startswith("a=msid:"):
            bits = line[7:].split()
            cur.stream = bits[0] if bits else None
            cur.track = bits[1] if len(bits) > 1 else None
        elif line.startswith("a=ssrc:"):
            m = re.match(r"a=ssrc:(\d+)(?:\s+msid:(\S+)(?:\s+(\S+))?)?", line)
            if m:
                ssrc = int(m.group(1))
                if ssrc not in cur.ssrcs:
                    cur.ssrcs.append(ssrc)
                if m.group(2) and cur.stream is None:
                    cur.stream, cur.track = m.group(2), m.group(3)
    return lines


def sendonly_streams(sdp):
    """{msid stream id: set of kinds} over the sendonly m-lines of an offer."""
    out = collections.defaultdict(set)
    for m in parse_mlines(sdp):
        if m.direction == "sendonly" and m.stream and m.port != 0:
            out[m.stream].add(m.kind)
    return dict(out)


# --- synthetic media -------------------------------------------------------------------


VIDEO_CLOCK = 90000


class _PacedTrack(MediaStreamTrack):
    """A synthetic track that hands out frame n at start + n * period seconds (a real
    source's pace); the subclass sets period and makes frame self._n."""

    def __init__(self, period):
        super().__init__()
        self._period = period
        self._start = None
        self._n = 0
        self.frames = 0

    async def _next_frame(self):
        """Waits for the next frame's time; self._n is then its number."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._n += 1
            wait = self._start + self._n * self._period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)


class PatternVideoTrack(_PacedTrack):
    """width x height frames of a checkerboard sliding sideways with a block of fresh noise
    in a corner: every frame differs from the last and takes a few RTP packets, as a camera's
    would (a still picture compresses to almost nothing)."""

    kind = "video"

    def __init__(self, width=320, height=240, fps=15):
        super().__init__(1 / fps)
        self.width, self.height, self.fps = width, height, fps
        y, x = numpy.mgrid[0:height, 0:2 * width]
        self._luma = ((((x // 16) + (y // 16)) % 2) * 160 + 48).astype(numpy.uint8)
        self._chroma = numpy.full((height // 2, width), 128, numpy.uint8)
        self._rng = numpy.random.default_rng(1)

    async def recv(self):
        await self._next_frame()
        shift = (self._n * 4) % self.width
        luma = self._luma[:, shift:shift + self.width].copy()
        bh, bw = self.height // 4, self.width // 4
        luma[:bh, :bw] = self._rng.integers(0, 256, (bh, bw), numpy.uint8)
        frame = VideoFrame.from_ndarray(numpy.vstack([luma, self._chroma]), format="yuv420p")
        frame.pts = self._n * VIDEO_CLOCK // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.frames += 1
        return frame


class SineAudioTrack(_PacedTrack):
    """A 440 Hz sine, 48 kHz mono, in 20 ms frames."""

    kind = "audio"
    RATE = 48000
    SAMPLES = 960

    def __init__(self, freq=440.0):
        super().__init__(self.SAMPLES / self.RATE)
        self.freq = freq

    async def recv(self):
        await self._next_frame()
        t = (numpy.arange(self.SAMPLES) + self._n * self.SAMPLES) / self.RATE
        pcm = (numpy.sin(2 * numpy.pi * self.freq * t) * 8000).astype(numpy.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.RATE
        frame.pts = self._n * self.SAMPLES
        frame.time_base = fractions.Fraction(1, self.RATE)
        self.frames += 1
        return frame


def _prefer(transceiver, *mime_types):
    caps = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    chosen = [c for t in mime_types for c in caps if c.mimeType.lower() == t.lower()]
    transceiver.setCodecPreferences(chosen)


async def _wait_state(pc, attr, want, timeout, what):
    deadline = time.monotonic() + timeout
    while getattr(pc, attr) != want:
        state = getattr(pc, attr)
        if state in ("failed", "closed"):
            raise AssertionError("%s: %s became %s" % (what, attr, state))
        if time.monotonic() > deadline:
            raise AssertionError("%s: %s still %s after %.1f s" % (what, attr, state, timeout))
        await asyncio.sleep(0.05)


# --- publisher -------------------------------------------------------------------------


class Publisher:
    """A participant's publishing peer connection: sendonly Opus audio and VP8 video (with
    its RTX, as browsers offer it)."""

    def __init__(self, client, audio=True, video=True, width=320, height=240, fps=15):
        self.client = client
        self.label = client.label if client is not None else "pub"
        self.pc = RTCPeerConnection(rtc_configuration())
        self.tracks = []
        self.answer = None
        if audio:
            track = SineAudioTrack()
            _prefer(self.pc.addTransceiver(track, direction="sendonly"), "audio/opus")
            self.tracks.append(track)
        if video:
            track = PatternVideoTrack(width, height, fps)
            _prefer(self.pc.addTransceiver(track, direction="sendonly"), "video/VP8",
                    "video/rtx")
            self.tracks.append(track)

    async def make_offer(self):
        """A complete offer (candidates included: aiortc gathers before it returns)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def apply_answer(self, sdp):
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as e:
            raise AssertionError("%s: aiortc refused the publish_answer (%r):\n%s" % (
                self.label, e, sdp)) from None
        self.answer = sdp

    async def publish(self, timeout=2 * TIMEOUT):
        """Sends `publish` with a fresh offer and applies the publish_answer; returns it.
        (The answer waits on a round trip to the bridge, an ASan build: hence the longer
        bound.)"""
        sdp = await self.make_offer()
        ans = await self.client.request({"type": "publish", "sdp": sdp}, timeout)
        assert ans.get("type") == "publish_answer" and isinstance(ans.get("sdp"), str), \
            "%s: publish answered %s" % (self.label, ans)
        await self.apply_answer(ans["sdp"])
        return ans

    async def stop_publishing(self, timeout=2 * TIMEOUT):
        """A renegotiation with every transceiver inactive. aiortc keeps its senders
        running after such an answer, so RTP still reaches the bridge; the bridge must stop
        forwarding it by the SDP alone."""
        for t in self.pc.getTransceivers():
            t.direction = "inactive"
        return await self.publish(timeout)

    async def wait_connected(self, timeout=MEDIA_TIMEOUT):
        await _wait_state(self.pc, "connectionState", "connected", timeout,
                          "%s publisher" % self.label)

    def frames_sent(self, kind):
        return sum(t.frames for t in self.tracks if t.kind == kind)

    async def close(self):
        for t in self.tracks:
            t.stop()
        try:
            await asyncio.wait_for(self.pc.close(), 5)
        except Exception:
            pass


# --- subscriber ------------------------------------------------------------------------


class Received:
    """Frames decoded from one m-line or one publisher's track."""

    def __init__(self):
        self.frames = 0
        self.sizes = collections.Counter()
        self.times = []

    def add(self, frame, now):
        self.frames += 1
        if isinstance(frame, VideoFrame):
            self.sizes[(frame.width, frame.height)] += 1
        self.times.append(now)

    def max_gap(self, since=None, until=None):
        """The longest time between two frames in [since, until] (also counting from
        since to the first one and from the last one to until)."""
        ts = [t for t in self.times if (since is None or t >= since) and
              (until is None or t <= until)]
        edges = ([since] if since is not None else []) + ts + (
            [until] if until is not None else [])
        return max((b - a for a, b in zip(edges, edges[1:])), default=float("inf"))

    def count(self, since=None, until=None):
        return sum(1 for t in self.times if (since is None or t >= since) and
                   (until is None or t <= until))

    def __repr__(self):
        return "%d frames %s" % (self.frames, dict(self.sizes) if self.sizes else "")


class Subscriber:
    """The receiving peer connection of a joined client: answers each subscribe_offer it
    gets (the newest when several wait), renegotiations included, and decodes every track.

    Frames are counted per mid and per (publisher id, kind), the publisher being the msid
    stream of a sendonly m-line in the offer applied last."""

    def __init__(self, client):
        self.client = client
        self.label = client.label
        self.pc = RTCPeerConnection(rtc_configuration())
        self.pc.on("track", self._on_track)
        self.offer = None       # text of the offer applied last
        self.version = None
        self.offers = []        # (version, offer text) in the order applied
        self.answers = []
        self.mlines = {}        # mid -> MLine of the current offer
        self.by_mid = collections.defaultdict(Received)
        self.by_stream = collections.defaultdict(Received)  # (publisher id, kind)
        self.error = None
        self.restarts = 0       # offers that came with "restart" (a new peer connection)
        self.restart_times = []  # when each was applied (time.monotonic())
        self._consumers = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    # the offers

    async def _run(self):
        idx = 0
        c = self.client
        try:
            while True:
                offers = [(i, m) for i, m in enumerate(c.msgs[idx:], idx)
                          if m.get("type") == "subscribe_offer"]
                if offers:
                    idx = offers[-1][0] + 1
                    await self._apply(offers[-1][1])
                    continue
                idx = len(c.msgs)
                if c.closed:
                    return
                # The Client's arrival event; clearing it here does not take a message from
                # another waiter, since every waiter scans the whole list after waking.
                c._new.clear()
                await c._new.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # kept for the waiters, which report it
            self.error = "%s: %s" % (self.label, e)

    async def _apply(self, msg):
        sdp, version = msg.get("sdp"), msg.get("version")
        assert isinstance(sdp, str) and isinstance(version, int), \
            "malformed subscribe_offer: %s" % msg
        if self.version is not None and version <= self.version:
            return
        if msg.get("restart") is True:
            # Another bridge (its edge died, or the room's origin changed): other ICE
            # credentials and another DTLS certificate, so a new peer connection.
            old, self.pc = self.pc, RTCPeerConnection(rtc_configuration())
            self.pc.on("track", self._on_track)
            self.restarts += 1
            self.restart_times.append(time.monotonic())
            try:
                await asyncio.wait_for(old.close(), 5)
            except Exception:
                pass
        lines = parse_mlines(sdp)
        self.mlines = {m.mid: m for m in lines}
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except Exception as e:
            raise AssertionError("aiortc refused subscribe_offer v%d (%r):\n%s" % (
                version, e, sdp)) from None
        answer = self.pc.localDescription.sdp
        await self.client.send({"type": "subscribe_answer", "sdp": answer,
                                "version": version}, with_id=False)
        self.offer, self.version = sdp, version
        self.offers.append((version, sdp))
        self.answers.append(answer)

    # the media

    def _on_track(self, track):
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track),
                   None)
        self._consumers.append(asyncio.ensure_future(self._consume(track, mid)))

    async def _consume(self, track, mid):
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            self.by_mid[mid].add(frame, now)
            m = self.mlines.get(mid)
            if m is not None and m.direction == "sendonly" and m.stream:
                self.by_stream[(m.stream, track.kind)].add(frame, now)

    # what the tests look at

    def streams(self):
        """{publisher id: set of kinds} the current offer sends."""
        return sendonly_streams(self.offer) if self.offer else {}

    def mids_of(self, publisher, sdp=None):
        """{kind: mid} of a publisher's sendonly m-lines in an offer (the current one)."""
        sdp = sdp or self.offer or ""
        return {m.kind: m.mid for m in parse_mlines(sdp)
                if m.direction == "sendonly" and m.stream == publisher}

    def tracks_of(self, publisher):
        """{kind: aiortc remote track} of a publisher's sendonly m-lines now."""
        by_mid = {t.mid: t.receiver.track for t in self.pc.getTransceivers()}
        return {kind: by_mid.get(mid) for kind, mid in self.mids_of(publisher).items()}

    def received(self, publisher, kind):
        return self.by_stream[(publisher, kind)]

    def sizes(self, publisher=None):
        """{(width, height): frames} of the video decoded (from one publisher)."""
        out = collections.Counter()
        for (p, k), r in self.by_stream.items():
            if k == "video" and (publisher is None or p == publisher):
                out.update(r.sizes)
        return dict(out)

    def publishers_seen(self, kind=None):
        """Publisher ids from which frames were decoded."""
        return {p for (p, k), r in self.by_stream.items()
                if r.frames and (kind is None or k == kind)}

    def describe(self):
        return "%s: pc %s/ice %s, offer v%s streams %s, per publisher %s, per mid %s%s" % (
            self.label, self.pc.connectionState, self.pc.iceConnectionState, self.version,
            self.streams(), dict(self.by_stream), dict(self.by_mid),
            ", error: " + self.error if self.error else "")

    async def _until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            if self.error:
                raise AssertionError(self.error)
            if time.monotonic() > deadline:
                raise AssertionError("%s: no %s within %.1f s (%s)\nlast offer:\n%s" % (
                    self.label, what, timeout, self.describe(), self.offer))
            await asyncio.sleep(0.05)

    async def wait_offer(self, pred=None, timeout=TIMEOUT, what="matching subscribe_offer"):
        """Until an offer has been applied and answered for which pred(offer text) holds;
        returns the offer text."""
        await self._until(lambda: self.offer is not None and (pred is None or pred(self.offer)),
                          timeout, what)
        return self.offer

    async def wait_streams(self, expected, timeout=TIMEOUT):
        """Until the current offer sends exactly `expected` ({publisher id: kinds})."""
        expected = {p: set(k) for p, k in expected.items()}
        await self.wait_offer(lambda sdp: sendonly_streams(sdp) == expected, timeout,
                              "offer sending exactly %s" % expected)

    async def wait_video_frames(self, n, timeout=MEDIA_TIMEOUT, publisher=None,
                                size=None):
        """Until n video frames (of that size, from that publisher, when given) were
        decoded."""
        def count():
            if publisher is not None:
                r = [self.by_stream[(publisher, "video")]]
            else:
                r = [x for (_, k), x in self.by_stream.items() if k == "video"]
            return sum(x.sizes[size] if size else x.frames for x in r)

        await self._until(lambda: count() >= n, timeout, "%d video frames%s%s" % (
            n, " from " + publisher if publisher else "", " of %dx%d" % size if size else ""))

    async def wait_audio_frames(self, n, timeout=MEDIA_TIMEOUT, publisher=None):
        def count():
            return sum(x.frames for (p, k), x in self.by_stream.items()
                       if k == "audio" and (publisher is None or p == publisher))

        await self._until(lambda: count() >= n, timeout, "%d audio frames%s" % (
            n, " from " + publisher if publisher else ""))

    async def wait_connected(self, timeout=MEDIA_TIMEOUT):
        await _wait_state(self.pc, "connectionState", "connected", timeout,
                          "%s subscriber" % self.label)

    async def close(self):
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        try:
            await asyncio.wait_for(self.pc.close(), 5)
        except Exception:
            pass
        for t in self._consumers:
            t.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)


async def close_media(*objs):
    """Closes publishers and subscribers (None skipped), all of them even if one fails."""
    await asyncio.gather(*(o.close() for o in objs if o is not None),
                         return_exceptions=True)
