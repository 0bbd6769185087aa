// The amphi web client: the join screen, then the room: the stage (participants publish and
// watch, visitors watch), the audience's count, chat, polls, raised hands and the moderators'
// panel. The page follows role changes (redirect, promoted, demoted) and dropped connections
// by itself, without a reload. window.amphi gives tests the state and media counters.
import { $ } from './dom.js';
import { appendChat, renderChat, wireChat } from './chat.js';
import { Moderation, renderHandButton } from './moderation.js';
import { Polls } from './polls.js';
import { RoomState } from './room_state.js';
import { Publisher, Subscriber, listDevices, openDevices, stopStream } from './rtc.js';
import { Session } from './session.js';
import { Stage } from './stage.js';

const room = new RoomState();
let session = null;
let subscriber = null;
let publisher = null;
let local = null; // camera and microphone, while needed
let lastError = '';

const send = (msg) => (session ? session.request(msg) : Promise.resolve({ type: 'error', message: 'not connected' }));

function banner(text, isError) {
  const b = $('banner');
  b.textContent = text || '';
  b.hidden = !text;
  b.classList.toggle('error', Boolean(isError));
}

const notify = (text) => banner(text, false);

const stage = new Stage({
  onDemote: async (id, name) => {
    const ans = await send({ type: 'demote', target: id });
    if (ans.type === 'error') notify(`${name}: ${ans.message}`);
  },
});
const polls = new Polls(send);
const moderation = new Moderation(send, notify);
wireChat(send);

/* --- the join screen ----------------------------------------------------------------- */

const params = new URLSearchParams(location.search);
const token = params.get('jwt') || '';
const path = location.pathname.replace(/^\/+|\/+$/g, '');
if (path && path !== 'index.html') $('join-room').value = decodeURIComponent(path);
$('join-name').value = localStorage.getItem('amphi.name') || '';
if (params.get('visitor') === '1') $('join-visitor').checked = true;

async function fillDevices() {
  const { audio, video } = await listDevices();
  const fill = (sel, list, current) => {
    sel.replaceChildren(...list.map((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || `${d.kind === 'videoinput' ? 'Camera' : 'Microphone'} ${i + 1}`;
      o.selected = d.deviceId === current;
      return o;
    }));
  };
  const track = (kind) => local && local.getTracks().find((t) => t.kind === kind);
  fill($('camera'), video, track('video') && track('video').getSettings().deviceId);
  fill($('microphone'), audio, track('audio') && track('audio').getSettings().deviceId);
}

async function preview() {
  stopStream(local);
  local = null;
  $('preview').srcObject = null;
  if ($('join-visitor').checked) {
    $('preview-box').hidden = true;
    return;
  }
  $('preview-box').hidden = false;
  $('device-note').textContent = 'Starting your camera…';
  try {
    local = await openDevices({ videoId: $('camera').value, audioId: $('microphone').value });
    $('preview').srcObject = local;
    $('device-note').textContent = 'If the stage has room you go on it with this camera; otherwise you watch.';
    await fillDevices();
  } catch (e) {
    $('device-note').textContent = e.message;
    $('device-note').classList.add('error');
  }
}

$('join-visitor').addEventListener('change', preview);
$('camera').addEventListener('change', preview);
$('microphone').addEventListener('change', preview);
preview();

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  const roomName = $('join-room').value.trim().toLowerCase();
  const name = $('join-name').value.trim();
  if (name) localStorage.setItem('amphi.name', name);
  $('join-error').textContent = '';
  history.replaceState(null, '', `/${roomName}${location.search}`);
  session = new Session({ room: roomName, name: name || undefined, token: token || undefined,
    visitor: $('join-visitor').checked }, () => room.seq);
  listen(session);
  banner('Joining…');
  session.start();
});

$('leave').addEventListener('click', () => {
  if (session) session.leave();
  endMedia();
  location.href = `/${room.name || ''}`;
});

/* --- the room ------------------------------------------------------------------------ */

function endMedia() {
  if (publisher) publisher.close();
  publisher = null;
  if (subscriber) subscriber.close();
  subscriber = null;
  stopStream(local);
  local = null;
  stage.setLocal(null);
}

function isMe(id) {
  return session && session.id === id;
}

function renderAll() {
  const participant = session.role === 'participant';
  $('room-name').textContent = room.name;
  $('role').textContent = session.role;
  $('you').hidden = false;
  $('audience').hidden = false;
  $('leave').hidden = false;
  $('visitor-count').textContent = String(room.visitorCount);
  $('visitor-note').hidden = participant;
  stage.me = session.id;
  stage.moderator = session.moderator;
  stage.render(room.participants);
  renderChat(room.chat);
  polls.canCreate = participant;
  polls.canClose = (p) => session.moderator || p.creator === session.id;
  polls.render(room.polls);
  moderation.render(room, session.moderator);
  renderHandButton(room.myHand);
  renderMute();
}

function renderMute() {
  const on = publisher && publisher.state === 'publishing';
  $('mute-audio').hidden = !on;
  $('mute-video').hidden = !on;
  if (!on) return;
  $('mute-audio').textContent = publisher.enabled('audio') ? 'Mute' : 'Unmute';
  $('mute-video').textContent = publisher.enabled('video') ? 'Stop camera' : 'Start camera';
}

async function goOnStage() {
  if (!local) {
    try {
      local = await openDevices({ videoId: $('camera').value, audioId: $('microphone').value });
    } catch (e) {
      notify(`${e.message}`);
      return;
    }
  }
  stage.setLocal(local);
  publisher = new Publisher(session, local);
  try {
    await publisher.start();
  } catch (e) {
    notify(e.message);
  }
  renderMute();
}

function onJoined(m) {
  if (!m.resumed) room.reset(m.room);
  else if (m.hands) room.applyHands(m.hands, m.hands_seq);
  room.myHand = false;
  $('join-screen').hidden = true;
  $('room').hidden = false;
  banner('');
  if (subscriber) subscriber.close();
  subscriber = new Subscriber(session, (id, s) => stage.setStream(id, s), (id) => stage.dropStream(id));
  if (publisher) publisher.close();
  publisher = null;
  if (m.role === 'participant') {
    goOnStage();
  } else {
    stopStream(local); // a visitor never holds a camera
    local = null;
    stage.setLocal(null);
  }
  renderAll();
}

function onEvent(ev) {
  const r = room.apply(ev);
  if (r === 'gap') {
    session.drop(); // missed events: join again with since, which fetches them
    session.retry();
    return;
  }
  if (r !== 'applied') return;
  switch (ev.type) {
    case 'chat':
      appendChat(ev.message);
      break;
    case 'visitor_count':
      $('visitor-count').textContent = String(room.visitorCount);
      break;
    case 'poll':
      polls.render(room.polls);
      break;
    case 'room_updated':
      moderation.render(room, session.moderator);
      break;
    case 'participant_joined':
    case 'participant_left':
    case 'participant_updated': {
      const me = room.participant(session.id);
      if (me) session.moderator = me.moderator;
      stage.moderator = session.moderator;
      stage.render(room.participants);
      moderation.render(room, session.moderator);
      break;
    }
    default:
      break;
  }
}

function listen(s) {
  s.addEventListener('joined', (e) => onJoined(e.detail));
  s.addEventListener('event', (e) => onEvent(e.detail));
  s.addEventListener('snapshot', (e) => {
    room.reset(e.detail);
    renderAll();
  });
  s.addEventListener('hand', (e) => {
    room.applyHand(e.detail, s.id);
    if (isMe(e.detail.hand.id) && e.detail.hand.denied) notify('A moderator lowered your hand.');
    renderHandButton(room.myHand);
    moderation.render(room, s.moderator);
  });
  s.addEventListener('moving', (e) => {
    if (e.detail.to === 'visitor') {
      endMedia();
      notify('A moderator moved you to the audience.');
    } else {
      notify('A moderator brought you on stage.');
    }
  });
  s.addEventListener('status', (e) => {
    const { state, text } = e.detail;
    if (state === 'ended') {
      endMedia();
      $('room').hidden = true;
      $('join-screen').hidden = true;
      $('ended').hidden = false;
      $('ended-text').textContent = text;
      banner('');
    } else {
      banner(text, state === 'reconnecting' || state === 'degraded');
    }
  });
  s.addEventListener('failure', (e) => {
    lastError = e.detail.message;
    endMedia();
    $('room').hidden = true;
    $('join-screen').hidden = false;
    banner('');
    $('join-error').textContent = joinErrorText(e.detail);
  });
}

function joinErrorText(m) {
  switch (m.code) {
    case 'unauthorized': return `You cannot join this room: ${m.message}. Use the link you were given (it carries your access).`;
    case 'room_closed': return 'This event has ended.';
    case 'bad_request': return `Please check the room name: ${m.message}.`;
    default: return m.message;
  }
}

$('raise-hand').addEventListener('click', async () => {
  const want = !room.myHand;
  const ans = await send({ type: 'raise_hand', raised: want });
  if (ans.type === 'error') notify(ans.message); // else the server's hand message shows it
});
$('mute-audio').addEventListener('click', async () => {
  if (!publisher) return;
  await publisher.setEnabled('audio', !publisher.enabled('audio'));
  renderMute();
});
$('mute-video').addEventListener('click', async () => {
  if (!publisher) return;
  await publisher.setEnabled('video', !publisher.enabled('video'));
  renderMute();
});

setInterval(() => {
  if (subscriber) stage.speakers(subscriber.levels());
}, 300);

window.amphi = {
  state: () => ({
    role: session && session.role, id: session && session.id, node: session && session.url,
    moderator: session && session.moderator, seq: room.seq,
    publishing: Boolean(publisher && publisher.state === 'publishing'),
    hands: room.hands.map((x) => x.id), lastError,
  }),
  stats: async () => (subscriber ? subscriber.stats() : { framesDecoded: 0 }),
};
