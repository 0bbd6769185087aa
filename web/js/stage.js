// The stage: one tile per participant, in a grid that fits their number to the space; the
// remote video of each (<video data-participant="<id>">), their name, what they have muted,
// the active speaker highlighted (from the audio levels the browser measures), self-view,
// and for moderators a demote button on the others' tiles.
import { $, h } from './dom.js';

const SPEAKING = 0.02; // audio level above which someone is talking

export class Stage {
  constructor({ onDemote }) {
    this.onDemote = onDemote;
    this.tiles = new Map(); // participant id -> {tile, video, name, flags, demote}
    this.streams = new Map(); // participant id -> MediaStream received
    this.me = null;
    this.local = null; // own MediaStream (self-view)
    this.moderator = false;
    this.speaker = null;
    new ResizeObserver(() => this.layout()).observe($('stage'));
  }

  setStream(id, stream) {
    this.streams.set(id, stream);
    const t = this.tiles.get(id);
    if (t) this.attach(t, stream);
  }

  dropStream(id) {
    this.streams.delete(id);
    const t = this.tiles.get(id);
    if (t) this.attach(t, null);
  }

  attach(t, stream) {
    if (t.video.srcObject !== stream) {
      t.video.srcObject = stream;
      if (stream) t.video.play().catch(() => {});
    }
    t.tile.classList.toggle('no-video', !stream || !stream.getVideoTracks().length);
  }

  tile(p) {
    const self = p.id === this.me;
    const video = h('video', { autoplay: true, playsInline: true, muted: self });
    if (!self) video.dataset.participant = p.id;
    else video.dataset.self = '';
    const name = h('span', { class: 'name' });
    const flags = h('span', { class: 'flags' });
    const demote = h('button', { class: 'small demote', 'data-testid': 'demote',
      onclick: () => this.onDemote(p.id, p.name) }, 'Send to audience');
    const tile = h('figure', { class: 'tile', 'data-tile': p.id },
      video, h('figcaption', {}, name, flags, demote),
      h('div', { class: 'initials', 'aria-hidden': 'true' }, initials(p.name)));
    return { tile, video, name, flags, demote };
  }

  render(participants) {
    const grid = $('stage');
    const ids = new Set(participants.map((p) => p.id));
    for (const [id, t] of this.tiles)
      if (!ids.has(id)) {
        t.tile.remove();
        this.tiles.delete(id);
      }
    for (const p of participants) {
      let t = this.tiles.get(p.id);
      if (!t) {
        t = this.tile(p);
        this.tiles.set(p.id, t);
        grid.append(t.tile);
        const stream = p.id === this.me ? this.local : this.streams.get(p.id);
        this.attach(t, stream || null);
      }
      t.name.textContent = p.name + (p.id === this.me ? ' (you)' : '') + (p.moderator ? ' · moderator' : '');
      const muted = [];
      if (!p.audio) muted.push('mic off');
      if (!p.video) muted.push('camera off');
      t.flags.textContent = muted.join(' · ');
      t.demote.hidden = !this.moderator || p.id === this.me;
      t.tile.classList.toggle('speaking', p.id === this.speaker);
    }
    $('stage-empty').hidden = participants.length > 0;
    this.layout();
  }

  setLocal(stream) {
    this.local = stream;
    const t = this.tiles.get(this.me);
    if (t) this.attach(t, stream);
  }

  // Columns (and a tile width) for n tiles of 16:9 that make them largest in the stage's
  // box. The box has a height only on wide screens (CSS); on phones tiles stack.
  layout() {
    const grid = $('stage');
    const n = Math.max(1, this.tiles.size);
    const gap = 8;
    const w = grid.clientWidth || 1, hgt = grid.clientHeight || 1;
    let best = 1, bestSize = 0;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const size = Math.min((w - gap * (cols - 1)) / cols, (((hgt - gap * (rows - 1)) / rows) * 16) / 9);
      if (size > bestSize) {
        bestSize = size;
        best = cols;
      }
    }
    grid.style.setProperty('--cols', String(best));
    grid.style.setProperty('--tile', `${Math.max(120, Math.floor(bestSize))}px`);
  }

  speakers(levels) {
    let top = null, max = SPEAKING;
    for (const [id, level] of Object.entries(levels))
      if (level > max) {
        max = level;
        top = id;
      }
    if (top === this.speaker) return;
    this.speaker = top;
    for (const [id, t] of this.tiles) t.tile.classList.toggle('speaking', id === top);
  }

  clear() {
    for (const t of this.tiles.values()) t.tile.remove();
    this.tiles.clear();
    this.streams.clear();
  }
}

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join('').toUpperCase();
}
