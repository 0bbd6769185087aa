// The amphi web client: joins through the main node, follows a redirect to a visitor
// node, keeps the room's state from events (checking seq), chats. Plain ES module.
const $ = (id) => document.getElementById(id);

const state = { ws: null, room: null, seq: 0, me: null, role: null, pending: new Map(), n: 0 };

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function status(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

function send(msg) {
  const id = `r${++state.n}`;
  state.ws.send(JSON.stringify({ ...msg, id }));
  return id;
}

function connect(url, joinMsg) {
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify(joinMsg));
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = () => {
    if (state.ws === ws) status('disconnected', true);
  };
}

function renderParticipants() {
  const ul = $('participants');
  ul.replaceChildren(
    ...state.room.participants.map((p) => {
      const li = document.createElement('li');
      li.dataset.participant = p.id;
      li.textContent = p.name + (p.moderator ? ' (moderator)' : '') + (p.id === state.me ? ' (you)' : '');
      return li;
    }),
  );
}

function addChat(m) {
  const li = document.createElement('li');
  li.className = m.from.role;
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = m.from.name;
  li.append(from, document.createTextNode(m.text));
  $('chat-log').append(li);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
}

function showRoom(room) {
  state.room = room;
  state.seq = room.seq;
  $('join').hidden = true;
  $('room').hidden = false;
  $('room-name').textContent = room.name;
  $('role').textContent = state.role;
  $('visitor-count').textContent = String(room.visitor_count);
  $('chat-log').replaceChildren();
  room.chat.forEach(addChat);
  renderParticipants();
}

// Applies a room event; a gap in seq means we missed something: rejoin for a fresh state.
function onEvent(ev) {
  if (ev.seq <= state.seq) return;
  state.seq = ev.seq;
  const r = state.room;
  switch (ev.type) {
    case 'participant_joined':
    case 'participant_updated': {
      const i = r.participants.findIndex((p) => p.id === ev.participant.id);
      if (i >= 0) r.participants[i] = ev.participant;
      else r.participants.push(ev.participant);
      renderParticipants();
      break;
    }
    case 'participant_left':
      r.participants = r.participants.filter((p) => p.id !== ev.id);
      renderParticipants();
      break;
    case 'chat':
      addChat(ev.message);
      break;
    case 'visitor_count':
      $('visitor-count').textContent = String(ev.count);
      break;
    case 'room_updated':
      Object.assign(r, ev.room);
      break;
  }
}

function onMessage(m) {
  switch (m.type) {
    case 'joined':
      state.me = m.id;
      state.role = m.role;
      status(`joined as ${m.role}`);
      showRoom(m.room);
      break;
    case 'redirect':
      // The room is full: watch from the visitor node the main node chose.
      state.ws.onclose = null;
      state.ws.close();
      connect(m.url, { type: 'join', room: state.roomName, name: state.name, ticket: m.ticket });
      break;
    case 'snapshot':
      showRoom(m.room);
      break;
    case 'error':
      status(`${m.code}: ${m.message}`, true);
      break;
    case 'closed':
      status(`closed: ${m.reason}`, true);
      break;
    default:
      if (typeof m.seq === 'number') onEvent(m);
  }
}

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  state.roomName = $('join-room').value.trim().toLowerCase();
  state.name = $('join-name').value.trim();
  history.replaceState(null, '', `/${state.roomName}`);
  connect(wsUrl(), { type: 'join', room: state.roomName, name: state.name, visitor: $('join-visitor').checked });
});

$('chat').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('chat-input').value.trim();
  if (!text) return;
  send({ type: 'chat', text });
  $('chat-input').value = '';
});

$('leave').addEventListener('click', () => {
  send({ type: 'leave' });
  state.ws.onclose = null;
  state.ws.close();
  $('room').hidden = true;
  $('join').hidden = false;
  status('left');
});

// /tenant/room or /room in the address fills the room field.
const path = location.pathname.replace(/^\/+|\/+$/g, '');
if (path) $('join-room').value = decodeURIComponent(path);
