// WebRTC with the bridge: the publishing peer connection of a participant, and the receiving
// one every member has. The bridge is ICE-lite and the protocol has no trickle: an SDP goes
// once gathering is done (or after GATHER_MS; the bridge learns our address from our checks).

const GATHER_MS = 2000;

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const timer = setTimeout(done, GATHER_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

// iceServers: the TURN servers and credentials of the join answer (session.iceServers), for
// networks that block UDP to the bridge; none: host candidates only.
function newPc(iceServers) {
  return new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require',
    iceServers: iceServers || [] });
}

// Camera and microphone, with the chosen devices; a person-readable error when they cannot be had.
export async function openDevices({ audioId, videoId } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia)
    throw new Error('This browser cannot use a camera here (a secure address, https, is needed).');
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: audioId ? { deviceId: { exact: audioId } } : true,
      video: videoId ? { deviceId: { exact: videoId }, width: 640, height: 480 } : { width: 640, height: 480 },
    });
  } catch (e) {
    if (e.name === 'NotAllowedError')
      throw new Error('Camera and microphone are blocked. Allow them in the browser to go on stage; you can still watch.');
    if (e.name === 'NotFoundError' || e.name === 'OverconstrainedError')
      throw new Error('No camera or microphone was found. You can still watch and chat.');
    throw new Error(`The camera could not start (${e.name || e.message}).`);
  }
}

export async function listDevices() {
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    audio: all.filter((d) => d.kind === 'audioinput'),
    video: all.filter((d) => d.kind === 'videoinput'),
  };
}

export function stopStream(stream) {
  if (stream) for (const t of stream.getTracks()) t.stop();
}

// Sends a local stream: publish (offer) -> publish_answer. mute() is both: the track stops
// sending (enabled=false) and the room is told ({"type":"mute"}).
export class Publisher {
  constructor(session, stream) {
    this.session = session;
    this.stream = stream;
    this.pc = null;
    this.state = 'idle';
  }

  async start() {
    this.pc = newPc(this.session.iceServers);
    for (const t of this.stream.getTracks())
      this.pc.addTransceiver(t, { direction: 'sendonly', streams: [this.stream] });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gathered(this.pc);
    const ans = await this.session.request({ type: 'publish', sdp: this.pc.localDescription.sdp });
    if (ans.type !== 'publish_answer') {
      this.state = 'failed';
      throw new Error(`The server did not take your camera: ${ans.message}`);
    }
    if (!this.pc) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: ans.sdp });
    this.state = 'publishing';
  }

  setEnabled(kind, on) {
    for (const t of this.stream.getTracks()) if (t.kind === kind) t.enabled = on;
    return this.session.request({ type: 'mute', [kind]: on });
  }

  enabled(kind) {
    const t = this.stream.getTracks().find((x) => x.kind === kind);
    return t ? t.enabled : false;
  }

  close() {
    if (this.pc) this.pc.close();
    this.pc = null;
    this.state = 'closed';
  }
}

// Receives what the room publishes: answers every subscribe_offer (the newest when several
// wait). Streams are named by their publisher's participant id (the offer's msid), so
// onStream(id, stream) and onGone(id) tell the stage what to show.
export class Subscriber {
  constructor(session, onStream, onGone) {
    this.session = session;
    this.onStream = onStream;
    this.onGone = onGone;
    this.pc = null;
    this.newest = -1;
    this.queue = Promise.resolve();
    this.streams = new Map();
    this.onMedia = (e) => {
      const m = e.detail;
      if (m.type !== 'subscribe_offer' || !Number.isInteger(m.version)) return;
      this.newest = Math.max(this.newest, m.version);
      this.queue = this.queue.then(() => this.answer(m)).catch(() => {});
    };
    session.addEventListener('media', this.onMedia);
  }

  async answer(m) {
    if (m.version < this.newest || !this.session) return;
    if (m.restart && this.pc) {
      // Another bridge (ours died, or the room's media moved): other ICE credentials and
      // another DTLS certificate, so a new peer connection (docs/PROTOCOL.md, Media).
      this.pc.close();
      this.pc = null;
      for (const id of this.streams.keys()) this.onGone(id);
      this.streams.clear();
    }
    if (!this.pc) {
      this.pc = newPc(this.session.iceServers);
      this.pc.ontrack = (e) => this.track(e);
    }
    await this.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await gathered(this.pc);
    this.session.send({ type: 'subscribe_answer', sdp: this.pc.localDescription.sdp,
      version: m.version });
  }

  track(e) {
    const stream = e.streams[0];
    if (!stream) return;
    const id = stream.id;
    if (this.streams.get(id) !== stream) {
      this.streams.set(id, stream);
      stream.addEventListener('removetrack', () => {
        if (stream.getTracks().length === 0 && this.streams.get(id) === stream) {
          this.streams.delete(id);
          this.onGone(id);
        }
      });
    }
    this.onStream(id, stream);
  }

  // {participant id: audio level 0..1} of what is heard now: for the active speaker.
  levels() {
    const out = {};
    if (!this.pc) return out;
    for (const r of this.pc.getReceivers()) {
      if (r.track.kind !== 'audio') continue;
      const src = r.getSynchronizationSources()[0];
      for (const [id, s] of this.streams)
        if (s.getTracks().includes(r.track)) out[id] = src ? src.audioLevel || 0 : 0;
    }
    return out;
  }

  async stats() {
    let framesDecoded = 0;
    if (this.pc) (await this.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') framesDecoded += r.framesDecoded || 0;
    });
    return { framesDecoded };
  }

  close() {
    this.session.removeEventListener('media', this.onMedia);
    if (this.pc) this.pc.close();
    this.pc = null;
    for (const id of this.streams.keys()) this.onGone(id);
    this.streams.clear();
  }
}
