// What moderators have beside the stage: the queue of raised hands, in order, each with
// promote and deny; the participant threshold. And everyone's own raise-hand button.
import { $, h, timeOf } from './dom.js';

export class Moderation {
  constructor(send, notify) {
    this.send = send;
    this.notify = notify;
    $('threshold-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const n = Number($('threshold').value);
      const ans = await this.send({ type: 'set_room', max_participants: n });
      this.notify(ans.type === 'error' ? ans.message : `Up to ${n} people may now be on stage.`);
    });
    $('auto-promote').addEventListener('change', async (e) => {
      const ans = await this.send({ type: 'set_room', auto_promote: e.target.checked });
      if (ans.type === 'error') this.notify(ans.message);
    });
  }

  async act(type, hand) {
    const ans = await this.send({ type, target: hand.id });
    if (ans.type === 'error') this.notify(`${hand.name}: ${ans.message}`);
  }

  render(room, moderator) {
    $('moderation').hidden = !moderator;
    if (!moderator) return;
    const items = room.hands.map((hand) => h('li', { class: 'hand', 'data-hand': hand.id },
      h('span', { class: 'who' }, hand.name,
        h('span', { class: 'badge' }, hand.role === 'visitor' ? 'audience' : 'on stage')),
      h('time', {}, timeOf(hand.ts)),
      hand.role === 'visitor'
        ? h('button', { 'data-testid': 'promote', onclick: () => this.act('promote', hand) }, 'Bring on stage')
        : null,
      h('button', { class: 'secondary', 'data-testid': 'deny', onclick: () => this.act('deny', hand) }, 'Lower')));
    $('hands').replaceChildren(...items);
    $('hands-empty').hidden = items.length > 0;
    if (document.activeElement !== $('threshold')) $('threshold').value = String(room.maxParticipants);
    $('auto-promote').checked = room.autoPromote;
  }
}

export function renderHandButton(raised) {
  const b = $('raise-hand');
  b.textContent = raised ? 'Lower hand' : 'Raise hand';
  b.setAttribute('aria-pressed', raised ? 'true' : 'false');
  b.classList.toggle('raised', raised);
}
