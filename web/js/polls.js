// Polls: participants create them, everyone votes; the tallies are bars that move as the
// server's coalesced tallies arrive (a few times a second at most). One's own vote is shown.
import { $, h } from './dom.js';

export class Polls {
  constructor(send) {
    this.send = send;
    this.myVotes = new Map(); // poll id -> option index
    this.canCreate = false;
    this.canClose = () => false;
    $('poll-form').addEventListener('submit', (e) => this.create(e));
    $('poll-add-option').addEventListener('click', () => this.addOption(''));
    this.resetForm();
  }

  resetForm() {
    $('poll-question').value = '';
    $('poll-options').replaceChildren();
    this.addOption('');
    this.addOption('');
  }

  addOption(text) {
    const list = $('poll-options');
    if (list.children.length >= 10) return;
    list.append(h('li', {}, h('input', { class: 'poll-option-input', maxlength: '200', value: text,
      'aria-label': `Option ${list.children.length + 1}`, placeholder: `Option ${list.children.length + 1}` })));
  }

  async create(e) {
    e.preventDefault();
    const question = $('poll-question').value.trim();
    const options = [...document.querySelectorAll('.poll-option-input')]
      .map((i) => i.value.trim()).filter(Boolean);
    const ans = await this.send({ type: 'poll_create', question, options });
    if (ans.type === 'error') {
      $('poll-error').textContent = ans.message;
      return;
    }
    $('poll-error').textContent = '';
    this.resetForm();
    $('poll-create-box').open = false;
  }

  async vote(poll, option) {
    const before = this.myVotes.get(poll);
    this.myVotes.set(poll, option);
    const ans = await this.send({ type: 'poll_vote', poll, option });
    if (ans.type === 'error') {
      if (before === undefined) this.myVotes.delete(poll);
      else this.myVotes.set(poll, before);
      $('poll-error').textContent = ans.message;
    }
  }

  render(polls) {
    $('poll-create-box').hidden = !this.canCreate;
    const list = [...polls.values()].reverse(); // the newest first
    $('polls').replaceChildren(...list.map((p) => this.one(p)));
    $('polls-empty').hidden = list.length > 0;
  }

  one(p) {
    const total = p.options.reduce((s, o) => s + o.votes, 0);
    const mine = this.myVotes.get(p.id);
    const options = p.options.map((o, i) => {
      const share = total ? Math.round((100 * o.votes) / total) : 0;
      return h('button', {
        class: `poll-option${mine === i ? ' mine' : ''}`, 'data-testid': 'poll-option',
        disabled: p.closed, 'aria-pressed': mine === i ? 'true' : 'false',
        onclick: () => this.vote(p.id, i),
      },
      h('span', { class: 'bar', style: `width:${share}%` }),
      h('span', { class: 'label' }, o.text),
      h('span', { class: 'count', 'data-testid': 'poll-votes' }, `${o.votes} · ${share}%`));
    });
    const close = !p.closed && this.canClose(p)
      ? h('button', { class: 'small', onclick: () => this.send({ type: 'poll_close', poll: p.id }) }, 'Close poll')
      : null;
    return h('div', { class: `poll${p.closed ? ' closed' : ''}`, 'data-testid': 'poll', 'data-poll': p.id },
      h('div', { class: 'question' }, p.question),
      options,
      h('div', { class: 'poll-foot' },
        h('span', {}, `${p.voters} ${p.voters === 1 ? 'vote' : 'votes'}${p.closed ? ' · closed' : ''}`), close));
  }
}
