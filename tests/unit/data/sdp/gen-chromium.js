// Captures of headless Debian chromium (156) with a fake camera and microphone, for
// tests/unit/test_sdp.c:
//   cd tests/unit/data/sdp && node gen-chromium.js
// chromium-offer.sdp: getUserMedia audio+video added with addTrack, after ICE gathering;
// chromium-publisher-offer.sdp: the same tracks on sendonly transceivers;
// chromium-recvonly-offer.sdp: recvonly audio and video plus a data channel;
// chromium-answer.sdp: the answer to it of a peer sending both.
// The page is served on 127.0.0.1, since getUserMedia needs a secure context. The values in
// the test are those of the committed captures: rerunning needs the test updated.
const { chromium } = require(require('path').join(__dirname, '../../../browser/node_modules/playwright-core'));
const fs = require('fs');
const http = require('http');

async function capture() {
  const s = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const out = {};
  const pc = new RTCPeerConnection();
  for (const t of s.getTracks()) pc.addTrack(t, s);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
    setTimeout(done, 3000);
  });
  out.offer = pc.localDescription.sdp;

  const pub = new RTCPeerConnection();
  for (const t of s.getTracks()) pub.addTransceiver(t, { direction: 'sendonly', streams: [s] });
  out.publisher = (await pub.createOffer()).sdp;

  const rx = new RTCPeerConnection();
  rx.addTransceiver('audio', { direction: 'recvonly' });
  rx.addTransceiver('video', { direction: 'recvonly' });
  rx.createDataChannel('dc');
  const offer = await rx.createOffer();
  out.recvonly = offer.sdp;
  const tx = new RTCPeerConnection();
  await tx.setRemoteDescription(offer);
  const [audio, video] = tx.getTransceivers();
  await audio.sender.replaceTrack(s.getAudioTracks()[0]);
  audio.direction = 'sendonly';
  await video.sender.replaceTrack(s.getVideoTracks()[0]);
  video.direction = 'sendonly';
  out.answer = (await tx.createAnswer()).sdp;
  for (const p of [pc, pub, rx, tx]) p.close();
  s.getTracks().forEach((t) => t.stop());
  return out;
}

(async () => {
  const srv = http.createServer((req, res) => res.end('<html></html>'));
  await new Promise((done) => srv.listen(0, '127.0.0.1', done));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${srv.address().port}/`);
    const r = await page.evaluate(capture);
    fs.writeFileSync('chromium-offer.sdp', r.offer);
    fs.writeFileSync('chromium-publisher-offer.sdp', r.publisher);
    fs.writeFileSync('chromium-recvonly-offer.sdp', r.recvonly);
    fs.writeFileSync('chromium-answer.sdp', r.answer);
  } finally {
    await browser.close();
    srv.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
