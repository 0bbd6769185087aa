// The room as the server says it is: a snapshot, then every event in seq order. Pure (no DOM,
// no network), so that the same snapshot and events always give the same state, and so that
// it runs under `node --test` too.
//
// apply(ev) returns 'applied', 'old' (a seq already applied: ignored) or 'gap' (events were
// missed: the caller reconnects with `since` to fetch them). Hands are not room events: they
// have their own counter (hseq) and reach only moderators and their owner.

export class RoomState {
  constructor() {
    this.reset(null);
  }

  reset(snapshot) {
    this.name = snapshot ? snapshot.name : '';
    this.seq = snapshot ? snapshot.seq : 0;
    this.maxParticipants = snapshot ? snapshot.max_participants : 0;
    this.autoPromote = snapshot ? Boolean(snapshot.auto_promote) : false;
    this.participants = snapshot ? snapshot.participants.map((p) => ({ ...p })) : [];
    this.visitorCount = snapshot ? snapshot.visitor_count : 0;
    this.chat = snapshot ? [...snapshot.chat] : [];
    this.polls = new Map();
    for (const p of snapshot ? snapshot.polls || [] : []) this.polls.set(p.id, p);
    this.hands = snapshot && snapshot.hands ? snapshot.hands.map((h) => ({ ...h })) : [];
    this.hseq = snapshot && Number.isInteger(snapshot.hands_seq) ? snapshot.hands_seq : 0;
    this.myHand = false;
    this.ended = false;
  }

  participant(id) {
    return this.participants.find((p) => p.id === id);
  }

  apply(ev) {
    if (!Number.isInteger(ev.seq)) return 'old';
    if (ev.seq <= this.seq) return 'old';
    if (ev.seq > this.seq + 1) return 'gap';
    this.seq = ev.seq;
    switch (ev.type) {
      case 'participant_joined':
      case 'participant_updated': {
        const i = this.participants.findIndex((p) => p.id === ev.participant.id);
        if (i >= 0) this.participants[i] = { ...ev.participant };
        else this.participants.push({ ...ev.participant });
        break;
      }
      case 'participant_left':
        this.participants = this.participants.filter((p) => p.id !== ev.id);
        this.hands = this.hands.filter((h) => h.id !== ev.id);
        break;
      case 'chat':
        this.chat.push(ev.message);
        if (this.chat.length > 500) this.chat.splice(0, this.chat.length - 500);
        break;
      case 'visitor_count':
        this.visitorCount = ev.count;
        break;
      case 'poll':
        this.polls.set(ev.poll.id, ev.poll);
        break;
      case 'room_updated':
        if (Number.isInteger(ev.room.max_participants)) this.maxParticipants = ev.room.max_participants;
        if (typeof ev.room.auto_promote === 'boolean') this.autoPromote = ev.room.auto_promote;
        break;
      case 'closed':
        this.ended = true;
        break;
      default:
        break; // an event this client shows nothing of still takes its seq
    }
    return 'applied';
  }

  // The queue as a resumed join gives it to moderators.
  applyHands(hands, hseq) {
    this.hands = hands.map((h) => ({ ...h }));
    this.hseq = Number.isInteger(hseq) ? hseq : 0;
  }

  // A hand message: the moderators' queue (in the order hands went up), and one's own.
  applyHand(msg, me) {
    const h = msg.hand;
    if (Number.isInteger(msg.hseq)) {
      if (msg.hseq <= this.hseq && this.hseq > 0) return 'old';
      this.hseq = msg.hseq;
    }
    if (h.id === me) this.myHand = h.raised;
    const i = this.hands.findIndex((x) => x.id === h.id);
    if (h.raised && i < 0) this.hands.push({ ...h });
    if (!h.raised && i >= 0) this.hands.splice(i, 1);
    return 'applied';
  }
}
