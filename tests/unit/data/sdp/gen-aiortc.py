# Captures of aiortc 1.4 (Debian python3-aiortc) for tests/unit/test_sdp.c:
#   cd tests/unit/data/sdp && /usr/bin/python3 gen-aiortc.py
# aiortc-offer.sdp: audio and video transceivers, sendrecv; aiortc-publisher-offer.sdp: a
# sendonly audio track and a sendrecv video track; aiortc-recvonly-offer.sdp and
# aiortc-answer.sdp: a recvonly offer and the answer of a peer with tracks to send.
# The values in the test are those of the committed captures: rerunning needs the test
# updated.
import asyncio

from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack


def save(name, sdp):
    with open(name, "w", newline="") as f:
        f.write(sdp)


async def main():
    pc = RTCPeerConnection()
    pc.addTransceiver("audio")
    pc.addTransceiver("video")
    await pc.setLocalDescription(await pc.createOffer())
    save("aiortc-offer.sdp", pc.localDescription.sdp)
    await pc.close()

    pc = RTCPeerConnection()
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    save("aiortc-publisher-offer.sdp", pc.localDescription.sdp)
    await pc.close()

    offerer = RTCPeerConnection()
    offerer.addTransceiver("audio", direction="recvonly")
    offerer.addTransceiver("video", direction="recvonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    answerer = RTCPeerConnection()
    answerer.addTrack(AudioStreamTrack())
    answerer.addTrack(VideoStreamTrack())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    save("aiortc-recvonly-offer.sdp", offerer.localDescription.sdp)
    save("aiortc-answer.sdp", answerer.localDescription.sdp)
    await offerer.close()
    await answerer.close()


asyncio.run(main())
