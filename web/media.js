// amphi's minimal media page: media.html?room=acme/townhall&name=Ann&mode=publish|view.
// publish: joins as a participant, sends camera and microphone to the bridge, receives the
// others. view: joins as a visitor (following the redirect to a visitor node) and receives.
// window.amphiMedia exposes state() and stats() for tests. Plain ES module, no build step.
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
const cfg = {
  room: (params.get('room') || '').trim().toLowerCase(),
  name: (params.get('name') || 'guest').trim(),
  mode: params.get('mode') === 'publish' ? 'publish' : 'view',
  relay: params.get('relay') === '1', // only through the join answer's TURN servers
};

// The protocol has no trickle ICE: an SDP is sent once gathering is done, or after this long
// (the bridge is ICE-lite and learns our address from our checks, so late candidates are fine).
const GATHER_MS = 2000;

const st = {
  ws: null, url: null, joined: false, role: null, me: null, n: 0, iceServers: [],
  pub: null, publishId: null, publishing: false,
  sub: null, offers: 0, answered: 0, version: -1, newestOffer: -1,
  errors: [],
  // Every SDP step runs through this chain, so offers and answers never interleave.
  queue: Promise.resolve(),
};
const remoteVideos = new Map(); // stream id -> <video>

function render() {
  const parts = [st.joined ? `joined as ${st.role}` : 'joining'];
  if (st.publishing) parts.push('publishing');
  parts.push(`offers ${st.offers}`);
  if (st.errors.length) parts.push(st.errors[st.errors.length - 1]);
  $('media-status').textContent = parts.join(' · ');
  $('media-status').className = st.errors.length ? 'error' : '';
}

function fail(where, err) {
  st.errors.push(`${where}: ${err && err.message ? err.message : String(err)}`);
  render();
}

function enqueue(where, fn) {
  st.queue = st.queue.then(fn).catch((e) => fail(where, e));
  return st.queue;
}

function send(msg) {
  const id = `m${++st.n}`;
  st.ws.send(JSON.stringify({ ...msg, id }));
  return id;
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function connect(url, joinMsg) {
  const ws = new WebSocket(url);
  st.ws = ws;
  st.url = url;
  ws.onopen = () => ws.send(JSON.stringify(joinMsg));
  ws.onmessage = (e) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch (err) {
      fail('websocket', err);
      return;
    }
    onMessage(m);
  };
  ws.onclose = (e) => {
    if (st.ws === ws) fail('websocket', `closed (${e.code})`);
  };
}

function newPeerConnection(label) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require',
    iceServers: st.iceServers, iceTransportPolicy: cfg.relay ? 'relay' : 'all' });
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed') fail(label, 'connection failed');
    render();
  };
  return pc;
}

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, GATHER_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/* --- publishing ------------------------------------------------------------------------ */

async function startPublishing() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 320, height: 240 },
  });
  const local = $('local-video');
  local.srcObject = stream;
  local.hidden = false;
  st.pub = newPeerConnection('publish');
  for (const track of stream.getTracks())
    st.pub.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  await sendPublishOffer();
}

async function sendPublishOffer() {
  await st.pub.setLocalDescription(await st.pub.createOffer());
  await gathered(st.pub);
  st.publishId = send({ type: 'publish', sdp: st.pub.localDescription.sdp });
}

async function applyPublishAnswer(sdp) {
  if (!st.pub || st.pub.signalingState !== 'have-local-offer')
    throw new Error('answer without an offer of ours');
  await st.pub.setRemoteDescription({ type: 'answer', sdp });
  // What the bridge accepted, not what we asked for: an m-line it refused does not count.
  st.publishing = st.pub
    .getTransceivers()
    .some((t) => t.currentDirection === 'sendonly' || t.currentDirection === 'sendrecv');
  render();
}

// A renegotiation of the same peer connection: inactive m-lines stop being published.
function setPublishing(on) {
  return enqueue('publish', async () => {
    if (!st.pub) throw new Error('not publishing');
    for (const t of st.pub.getTransceivers()) t.direction = on ? 'sendonly' : 'inactive';
    await sendPublishOffer();
  });
}

/* --- receiving ------------------------------------------------------------------------- */

function onTrack(e) {
  const stream = e.streams[0] || new MediaStream([e.track]);
  if (remoteVideos.has(stream.id)) return;
  const v = document.createElement('video');
  v.dataset.testid = 'remote-video';
  v.dataset.stream = stream.id;
  // Muted so that autoplay is allowed without a click; the controls let a person unmute.
  Object.assign(v, { autoplay: true, muted: true, playsInline: true, controls: true });
  v.srcObject = stream;
  $('remote-videos').append(v);
  remoteVideos.set(stream.id, v);
  // A publisher that went away leaves its m-lines inactive: its stream empties.
  stream.addEventListener('removetrack', () => {
    if (stream.getTracks().length) return;
    v.remove();
    remoteVideos.delete(stream.id);
  });
}

async function answerSubscribeOffer(m) {
  if (m.version < st.newestOffer) return; // a newer offer waits behind this one
  if (!st.sub) {
    st.sub = newPeerConnection('subscribe');
    st.sub.ontrack = onTrack;
  }
  await st.sub.setRemoteDescription({ type: 'offer', sdp: m.sdp });
  await st.sub.setLocalDescription(await st.sub.createAnswer());
  await gathered(st.sub);
  send({ type: 'subscribe_answer', sdp: st.sub.localDescription.sdp, version: m.version });
  st.version = m.version;
  st.answered++;
  render();
}

/* --- signaling ------------------------------------------------------------------------- */

function onMessage(m) {
  switch (m.type) {
    case 'joined':
      st.joined = true;
      st.role = m.role;
      st.me = m.id;
      st.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
      render();
      if (cfg.mode !== 'publish') break;
      if (m.role === 'participant') enqueue('publish', startPublishing);
      else fail('publish', `joined as ${m.role}, cannot publish`);
      break;
    case 'redirect':
      // Visitors watch from the visitor node the main node chose, with its ticket.
      st.ws.onclose = null;
      st.ws.close();
      connect(m.url, { type: 'join', room: cfg.room, name: cfg.name, ticket: m.ticket });
      break;
    case 'publish_answer':
      if (typeof m.sdp !== 'string') fail('publish_answer', 'no sdp');
      else if (m.id === undefined || m.id === st.publishId) enqueue('publish_answer', () => applyPublishAnswer(m.sdp));
      break;
    case 'subscribe_offer':
      st.offers++;
      render();
      if (typeof m.sdp !== 'string' || !Number.isInteger(m.version)) {
        fail('subscribe_offer', 'no sdp or version');
        break;
      }
      st.newestOffer = Math.max(st.newestOffer, m.version);
      enqueue('subscribe_offer', () => answerSubscribeOffer(m));
      break;
    case 'error':
      if (m.id && m.id === st.publishId) st.publishing = false;
      fail(`error ${m.code}`, m.message);
      break;
    case 'closed':
      fail('closed', m.reason);
      break;
    default:
      break; // room events, ok: this page shows media only
  }
}

async function stats() {
  const sum = {
    framesDecoded: 0, packetsReceived: 0, bytesReceived: 0, audioPackets: 0,
    frameWidth: 0, frameHeight: 0, packetsSent: 0, framesEncoded: 0,
    candidateTypes: [], // of our side of each connection's selected pair: host, relay...
  };
  for (const pc of [st.sub, st.pub]) {
    if (!pc) continue;
    const report = await pc.getStats();
    report.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) {
        const pair = report.get(r.selectedCandidatePairId);
        const local = pair && report.get(pair.localCandidateId);
        if (local) sum.candidateTypes.push(local.candidateType);
      }
      if (r.type === 'inbound-rtp') {
        sum.packetsReceived += r.packetsReceived || 0;
        sum.bytesReceived += r.bytesReceived || 0;
        if (r.kind === 'audio') sum.audioPackets += r.packetsReceived || 0;
        if (r.kind === 'video') {
          sum.framesDecoded += r.framesDecoded || 0;
          sum.frameWidth = Math.max(sum.frameWidth, r.frameWidth || 0);
          sum.frameHeight = Math.max(sum.frameHeight, r.frameHeight || 0);
        }
      } else if (r.type === 'outbound-rtp') {
        sum.packetsSent += r.packetsSent || 0;
        sum.framesEncoded += r.framesEncoded || 0;
      }
    });
  }
  return sum;
}

function state() {
  return {
    joined: st.joined, role: st.role, id: st.me, node: st.url, mode: cfg.mode,
    publishing: st.publishing, offers: st.offers, answered: st.answered, version: st.version,
    publishState: st.pub ? st.pub.connectionState : null,
    subscribeState: st.sub ? st.sub.connectionState : null,
    errors: [...st.errors],
  };
}

window.amphiMedia = { state, stats, setPublishing };

if (!cfg.room) {
  fail('page', 'no ?room= in the address');
} else {
  render();
  connect(wsUrl(), { type: 'join', room: cfg.room, name: cfg.name, visitor: cfg.mode === 'view' });
}
