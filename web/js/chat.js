// The chat: who said it (and whether from the audience), when, what. The log follows the
// newest message unless the reader scrolled up to read older ones.
import { $, h, timeOf } from './dom.js';

function line(m) {
  const who = h('span', { class: 'from' }, m.from.name);
  const badge = m.from.role === 'visitor' ? h('span', { class: 'badge' }, 'audience') : null;
  return h('li', { class: `msg ${m.from.role}` },
    h('div', { class: 'meta' }, who, badge, h('time', {}, timeOf(m.ts))),
    h('div', { class: 'text' }, m.text));
}

export function renderChat(messages) {
  const log = $('chat-log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.replaceChildren(...messages.map(line));
  if (atBottom) log.scrollTop = log.scrollHeight;
}

export function appendChat(m) {
  const log = $('chat-log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(line(m));
  if (atBottom) log.scrollTop = log.scrollHeight;
}

export function wireChat(send) {
  $('chat').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    const ans = await send({ type: 'chat', text });
    if (ans.type === 'error') {
      input.value = text;
      $('chat-error').textContent = `Not sent: ${ans.message}`;
    } else {
      $('chat-error').textContent = '';
    }
  });
}
