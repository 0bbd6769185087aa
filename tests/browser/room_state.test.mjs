// The web client's room state (web/js/room_state.js) alone, in node: a snapshot and the events
// after it give the same state as a later snapshot; an old seq is ignored, a skipped one is
// a gap; hands are kept in order by hseq, one's own hand known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomState } from '../../web/js/room_state.js';

const snap = (seq, extra = {}) => ({ name: 'acme/x', seq, max_participants: 2, participants: [],
  visitor_count: 0, chat: [], polls: [], ...extra });

test('events after a snapshot, in seq order', () => {
  const r = new RoomState();
  r.reset(snap(4));
  const ann = { id: 'p1', name: 'Ann', moderator: true, audio: true, video: true, hand: false };
  assert.equal(r.apply({ type: 'participant_joined', participant: ann, seq: 5 }), 'applied');
  assert.equal(r.apply({ type: 'chat', message: { from: { id: 'p1', name: 'Ann', role: 'participant' }, text: 'hi', ts: 1 }, seq: 6 }), 'applied');
  assert.equal(r.apply({ type: 'chat', message: { text: 'again' }, seq: 6 }), 'old');
  assert.equal(r.apply({ type: 'visitor_count', count: 9, seq: 8 }), 'gap');
  assert.equal(r.apply({ type: 'visitor_count', count: 9, seq: 7 }), 'applied');
  const poll = { id: 'q1', question: 'Q', options: [{ text: 'a', votes: 1 }, { text: 'b', votes: 0 }], closed: false, voters: 1 };
  assert.equal(r.apply({ type: 'poll', poll, seq: 8 }), 'applied');
  assert.equal(r.apply({ type: 'room_updated', room: { max_participants: 5, auto_promote: true }, seq: 9 }), 'applied');
  assert.equal(r.apply({ type: 'participant_left', id: 'p1', seq: 10 }), 'applied');
  const later = new RoomState();
  later.reset(snap(10, { max_participants: 5, auto_promote: true, visitor_count: 9,
    chat: [{ from: { id: 'p1', name: 'Ann', role: 'participant' }, text: 'hi', ts: 1 }], polls: [poll] }));
  for (const k of ['seq', 'maxParticipants', 'autoPromote', 'participants', 'visitorCount', 'chat'])
    assert.deepEqual(r[k], later[k], k);
  assert.deepEqual([...r.polls], [...later.polls]);
});

test('hands: the queue in order, one\'s own state', () => {
  const r = new RoomState();
  r.reset(snap(1, { hands: [{ id: 'v1', name: 'A', role: 'visitor', raised: true, ts: 1 }], hands_seq: 3 }));
  const hand = (hseq, id, raised) => ({ type: 'hand', hseq, hand: { id, name: id, role: 'visitor', raised, ts: hseq } });
  assert.equal(r.applyHand(hand(3, 'v2', true), 'me'), 'old');
  r.applyHand(hand(4, 'v2', true), 'me');
  r.applyHand(hand(5, 'me', true), 'me');
  assert.deepEqual(r.hands.map((h) => h.id), ['v1', 'v2', 'me']);
  assert.equal(r.myHand, true);
  r.applyHand(hand(6, 'v1', false), 'me');
  r.applyHand(hand(7, 'me', false), 'me');
  assert.deepEqual(r.hands.map((h) => h.id), ['v2']);
  assert.equal(r.myHand, false);
});
