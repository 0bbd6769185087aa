// Injected into every page before its own scripts (page.addInitScript), so that the real web
// client is what is measured. Two halves:
// - getUserMedia answers with a 640x480 canvas stream whose pixels carry the time the frame
//   was drawn (Date.now()) and the fake microphone's audio: the client publishes the clock.
// - window.glass.watch(selector) reads the clock back from every decoded frame of the first
//   matching <video> (requestVideoFrameCallback) and keeps receive - sent, in ms.
// The code: 40 blocks of 80x96 pixels (8 across, 5 down), black = 0, white = 1: the low 32
// bits of the time, then an 8-bit sum of its four bytes, so that a frame VP8 smeared (or one
// caught half drawn) is counted as unreadable rather than as a wrong delay.
(() => {
  const W = 640, H = 480, COLS = 8, ROWS = 5, BW = W / COLS, BH = H / ROWS;
  const bitsOf = (t) => {
    const v = t >>> 0;
    const sum = ((v & 255) + ((v >>> 8) & 255) + ((v >>> 16) & 255) + (v >>> 24)) & 255;
    const bits = [];
    for (let i = 31; i >= 0; i--) bits.push((v >>> i) & 1);
    for (let i = 7; i >= 0; i--) bits.push((sum >>> i) & 1);
    return bits;
  };
  function clockStream() {
    const canvas = document.createElement('canvas');
    canvas.width = W;
    canvas.height = H;
    const g = canvas.getContext('2d');
    const draw = () => {
      const bits = bitsOf(Date.now());
      for (let k = 0; k < bits.length; k++) {
        g.fillStyle = bits[k] ? '#fff' : '#000';
        g.fillRect((k % COLS) * BW, Math.floor(k / COLS) * BH, BW, BH);
      }
    };
    draw();
    setInterval(draw, 33); // 30 frames a second; captureStream() takes each as it is drawn
    return canvas.captureStream();
  }
  const original = navigator.mediaDevices && navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  if (original) {
    navigator.mediaDevices.getUserMedia = async (c = {}) => {
      const out = new MediaStream();
      if (c.audio) for (const t of (await original({ audio: c.audio })).getAudioTracks()) out.addTrack(t);
      if (c.video) for (const t of clockStream().getVideoTracks()) out.addTrack(t);
      return out;
    };
  }
  // Every peer connection the client makes, so that the bench can ask where the delay sits
  // (the sender's pacer, the receiver's jitter buffer) without a hook in the client.
  const pcs = [];
  const NativePc = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) {
    const pc = new NativePc(...a);
    pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = NativePc.prototype;
  // Sums over the video streams of every connection: the sender's pacer (totalPacketSendDelay
  // over packetsSent), the receiver's jitter buffer (jitterBufferDelay over its count); and
  // of the audio, which the video waits for when the two are played in sync: its jitter
  // buffer and its playout (media-playout: totalPlayoutDelay over totalSamplesCount).
  async function counters() {
    const c = { sendDelay: 0, sent: 0, jbDelay: 0, jbCount: 0, outBps: 0,
      ajbDelay: 0, ajbCount: 0, playDelay: 0, playCount: 0 };
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const r of (await pc.getStats()).values()) {
        if (r.type === 'outbound-rtp' && r.kind === 'video') {
          c.sendDelay += r.totalPacketSendDelay || 0;
          c.sent += r.packetsSent || 0;
        } else if (r.type === 'inbound-rtp' && r.kind === 'video') {
          c.jbDelay += r.jitterBufferDelay || 0;
          c.jbCount += r.jitterBufferEmittedCount || 0;
        } else if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          c.ajbDelay += r.jitterBufferDelay || 0;
          c.ajbCount += r.jitterBufferEmittedCount || 0;
        } else if (r.type === 'media-playout') {
          c.playDelay += r.totalPlayoutDelay || 0;
          c.playCount += r.totalSamplesCount || 0;
        } else if (r.type === 'candidate-pair' && r.nominated && r.availableOutgoingBitrate) {
          c.outBps = Math.max(c.outBps, r.availableOutgoingBitrate);
        }
      }
    }
    return c;
  }
  function decode(px) { // px: RGBA of a W x H frame; the time's low 32 bits, or null
    let v = 0, sum = 0;
    for (let k = 0; k < 40; k++) {
      const x = (k % COLS) * BW + BW / 2, y = Math.floor(k / COLS) * BH + BH / 2;
      const i = (y * W + x) * 4;
      const bit = (px[i] + px[i + 1] + px[i + 2]) / 3 > 127 ? 1 : 0;
      if (k < 32) v = ((v << 1) | bit) >>> 0;
      else sum = (sum << 1) | bit;
    }
    const want = ((v & 255) + ((v >>> 8) & 255) + ((v >>> 16) & 255) + (v >>> 24)) & 255;
    return sum === want ? v : null;
  }
  window.glass = {
    delays: [],
    bad: 0,
    watch(selector) {
      const video = document.querySelector(selector);
      if (!video || !video.requestVideoFrameCallback) return false;
      const canvas = document.createElement('canvas');
      canvas.width = W;
      canvas.height = H;
      const g = canvas.getContext('2d', { willReadFrequently: true });
      const onFrame = () => {
        const now = Date.now();
        g.drawImage(video, 0, 0, W, H);
        const low = decode(g.getImageData(0, 0, W, H).data);
        if (low === null) window.glass.bad++;
        else {
          const d = ((now >>> 0) - low) >>> 0; // both low 32 bits: wraps together
          if (d < 60000) window.glass.delays.push(d);
          else window.glass.bad++;
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
      return true;
    },
    counters,
    take() {
      const d = window.glass.delays, bad = window.glass.bad;
      window.glass.delays = [];
      window.glass.bad = 0;
      return { delays: d, bad };
    },
  };
})();
