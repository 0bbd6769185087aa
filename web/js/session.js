// One person's presence in a room, across connections: joins through the main node, follows
// a redirect to a visitor node, moves by itself on `promoted` and `demoted`, and after a
// dropped connection joins again (backoff with jitter) with `since`, so that the node can send
// only the events missed. Requests are answered by id. What it hears is passed on as events
// (an EventTarget): 'joined', 'event' (room events), 'hand', 'media' (publish_answer,
// subscribe_offer), 'moving' (promoted/demoted: a new role is coming), 'status'.

const RETRY_MS = [300, 1000, 2000, 4000, 8000]; // then 8 s, each with +-30% jitter
const REQUEST_MS = 10000;

export function mainUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

// What the server's reasons mean to a person.
export function reasonText(reason) {
  switch (reason) {
    case 'ended': return 'This event has ended.';
    case 'empty': return 'This room closed after everyone had left.';
    case 'shutdown': case undefined: case null: case '':
      return 'The server is restarting; reconnecting…';
    default: return `The connection was closed (${reason}).`;
  }
}

export class Session extends EventTarget {
  // opts: {room, name, token, visitor}; seq() gives the last room seq applied (for `since`)
  constructor(opts, seq) {
    super();
    this.opts = opts;
    this.seq = seq;
    this.ws = null;
    this.role = null;
    this.id = null;
    this.moderator = false;
    this.n = 0;
    this.pending = new Map(); // request id -> {resolve, timer}
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.joinedOnce = false;
    this.iceServers = [];
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  status(state, text) {
    this.emit('status', { state, text });
  }

  start() {
    this.connect(mainUrl(), this.mainJoin());
  }

  // The join through the main node: the first, and every reconnect (a visitor node may be
  // gone; the main node redirects to a live one with a fresh ticket).
  mainJoin() {
    const m = { type: 'join', room: this.opts.room, name: this.opts.name };
    if (this.opts.token) m.token = this.opts.token;
    if (this.opts.visitor || this.role === 'visitor') m.visitor = true;
    if (this.joinedOnce) m.since = this.seq();
    return m;
  }

  // The join on the node a ticket is for; once in the room, it resumes from what we have.
  ticketJoin(ticket) {
    const m = { type: 'join', room: this.opts.room, name: this.opts.name, ticket };
    if (this.joinedOnce) m.since = this.seq();
    return m;
  }

  connect(url, joinMsg) {
    this.drop();
    const ws = new WebSocket(url);
    this.ws = ws;
    this.url = url;
    this.live = false; // joined on this socket
    ws.onopen = () => ws.send(JSON.stringify(joinMsg));
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      let m;
      try {
        m = JSON.parse(e.data);
      } catch {
        return;
      }
      this.onMessage(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return; // we moved on already
      this.ws = null;
      this.failPending();
      if (!this.stopped) this.retry();
    };
  }

  // Closes the current socket on purpose (no retry follows).
  drop() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    this.failPending();
  }

  retry() {
    const base = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    const wait = Math.round(base * (0.7 + 0.6 * Math.random()));
    this.attempt++;
    this.status('reconnecting', `Connection lost; reconnecting in ${(wait / 1000).toFixed(1)} s…`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.connect(mainUrl(), this.mainJoin());
    }, wait);
  }

  failPending() {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ type: 'error', code: 'unavailable', message: 'the connection dropped' });
    }
    this.pending.clear();
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  // The answer (ok or error) to msg; an error when the connection drops meanwhile.
  request(msg) {
    const id = `r${++this.n}`;
    return new Promise((resolve) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        resolve({ type: 'error', code: 'unavailable', message: 'not connected' });
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ type: 'error', code: 'unavailable', message: 'no answer' });
      }, REQUEST_MS);
      this.pending.set(id, { resolve, timer });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  leave() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.send({ type: 'leave' });
    this.drop();
  }

  onMessage(m) {
    // The answer to a request echoes its id: ok, error, or a result (publish_answer).
    if (m.type !== 'joined' && m.type !== 'redirect' && m.id && this.pending.has(m.id)) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      p.resolve(m);
      return;
    }
    switch (m.type) {
      case 'joined':
        this.live = true;
        this.attempt = 0;
        this.role = m.role;
        this.id = m.id;
        this.moderator = Boolean(m.moderator);
        // TURN credentials, fresh with every join (they expire): for the next peer connection
        this.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
        this.joinedOnce = true;
        this.status('connected', '');
        this.emit('joined', m);
        break;
      case 'redirect': // the room's stage is full, or we asked to watch: the visitor node
        this.connect(m.url, this.ticketJoin(m.ticket));
        break;
      case 'promoted':
      case 'demoted':
        this.emit('moving', { to: m.type === 'promoted' ? 'participant' : 'visitor' });
        this.role = m.type === 'promoted' ? 'participant' : 'visitor';
        this.connect(m.url, this.ticketJoin(m.ticket));
        break;
      case 'publish_answer':
      case 'subscribe_offer':
        this.emit('media', m);
        break;
      case 'hand':
        this.emit('hand', m);
        break;
      case 'snapshot':
        this.emit('snapshot', m.room);
        break;
      case 'main_status': // our visitor node lost (or found again) the conference's main node
        this.status(m.reachable ? 'connected' : 'degraded',
          m.reachable ? '' : 'The conference server cannot be reached. You keep watching; chat, polls and hands are back when it is.');
        break;
      case 'closed':
        if (m.reason === 'ended' || m.reason === 'empty') {
          this.stopped = true;
          this.drop();
          this.status('ended', reasonText(m.reason));
        } else {
          this.status('reconnecting', reasonText(m.reason));
        }
        break;
      case 'error':
        if (this.live) break; // an answer to a request that gave up waiting
        // The join was refused. A node that is full or gone, a ticket too old: the main
        // node will find another way in. The rest is for the person to read.
        if (m.code === 'unavailable' || m.code === 'ticket_invalid' || m.code === 'rate_limited') {
          this.drop();
          this.retry();
        } else {
          this.stopped = true;
          this.drop();
          this.emit('failure', m);
        }
        break;
      default:
        if (Number.isInteger(m.seq)) this.emit('event', m);
        break;
    }
  }
}
