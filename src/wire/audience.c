#include "wire/audience.h"

#include <string.h>

#include "wire/wire_internal.h"

static const char *const op_names[WIRE_MOD__COUNT] = {"promote", "deny", "demote", "poll_close",
                                                      "set_room"};

const char *wire_mod_op_name(wire_mod_op op) {
  return (unsigned)op < WIRE_MOD__COUNT ? op_names[op] : "unknown";
}

int wire_up_from_check(json_t *root, const char *what, wire_up_from *f, wire_err *err) {
  json_t *from = json_object_get(root, "from");
  int rc;
  if (!json_is_object(from))
    return wi_fail(err, WIRE_EFIELD, "%s: \"from\" is not an object", what);
  if ((rc = wi_str(root, "rid", WI_NO_CTRL, 1, WIRE_RID_MAX, &f->rid, what, err)) ||
      (rc = wi_str(root, "node", WI_NODE, 1, WIRE_NODE_MAX, &f->node, what, err)) ||
      (rc = wi_str(from, "id", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ID_MAX, &f->id, what, err)) ||
      (rc =
           wi_str(from, "name", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_NAME_MAX, &f->name, what, err)) ||
      (rc = wi_bool(from, "moderator", false, false, &f->moderator, what, err)))
    return rc;
  return 0;
}

json_t *wire_up_from_json(const char *type, const wire_up_from *f) {
  if (!f->id || !f->name) return NULL;
  json_t *j = json_pack("{s:s}", "type", type);
  json_t *from = json_pack("{s:s,s:s}", "id", f->id, "name", f->name);
  if (from && f->moderator) json_object_set_new(from, "moderator", json_true());
  if (!j || !from || wi_set_str(j, "rid", f->rid) || wi_set_str(j, "node", f->node) ||
      json_object_set_new(j, "from", from)) {
    json_decref(j);
    return NULL;
  }
  return j;
}

/* Runs check on j: j when it passes, else NULL (j released). */
static json_t *checked(json_t *j, int (*check)(json_t *, void *, wire_err *), void *scratch) {
  if (j && check(j, scratch, NULL) == 0) return j;
  json_decref(j);
  return NULL;
}

static int vote_check(json_t *v, size_t i, wire_err *err) {
  const char *id;
  int64_t option, n;
  int rc;
  if (!json_is_object(v)) return wi_fail(err, WIRE_EFIELD, "votes: vote %zu is not an object", i);
  if ((rc = wi_str(v, "id", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ID_MAX, &id, "vote", err)) ||
      (rc = wi_int(v, "option", true, 0, WIRE_OPTIONS_MAX - 1, 0, &option, "vote", err)) ||
      (rc = wi_int(v, "n", true, 1, INT64_MAX, 0, &n, "vote", err)))
    return rc;
  return 0;
}

int wire_votes_up_check(json_t *root, wire_votes_up *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  int rc = wi_type(root, "votes", err);
  if (rc) return rc;
  json_t *votes = json_object_get(root, "votes");
  if ((rc = wi_str(root, "rid", WI_NO_CTRL, 1, WIRE_RID_MAX, &out->rid, "votes", err)) ||
      (rc = wi_str(root, "node", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->node, "votes",
                   err)) ||
      (rc = wi_str(root, "poll", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_POLL_ID_MAX, &out->poll, "votes",
                   err)))
    goto fail;
  if (!json_is_array(votes) || json_array_size(votes) == 0 ||
      json_array_size(votes) > WIRE_VOTES_MAX) {
    rc = wi_fail(err, WIRE_EFIELD, "votes: \"votes\" is not an array of 1..%d votes",
                 WIRE_VOTES_MAX);
    goto fail;
  }
  for (size_t i = 0; i < json_array_size(votes); i++)
    if ((rc = vote_check(json_array_get(votes, i), i, err))) goto fail;
  out->votes = votes;
  out->n_votes = json_array_size(votes);
  return 0;
fail:
  memset(out, 0, sizeof *out);
  return rc;
}

void wire_votes_get(const wire_votes_up *v, size_t i, wire_vote *out) {
  json_t *o = json_array_get(v->votes, i);
  out->id = json_string_value(json_object_get(o, "id"));
  out->option = (int)json_integer_value(json_object_get(o, "option"));
  out->n = json_integer_value(json_object_get(o, "n"));
}

int wire_votes_add(json_t *votes, const wire_vote *v) {
  json_t *o = json_pack("{s:s,s:i,s:I}", "id", v->id, "option", v->option, "n", (json_int_t)v->n);
  if (!o || vote_check(o, 0, NULL) != 0) {
    json_decref(o);
    return -1;
  }
  return json_array_append_new(votes, o);
}

static int votes_scratch_check(json_t *j, void *out, wire_err *err) {
  return wire_votes_up_check(j, out, err);
}

json_t *wire_votes_up_json(const char *rid, const char *node, const char *poll, json_t *votes) {
  wire_votes_up chk;
  json_t *j = json_pack("{s:s,s:O}", "type", "votes", "votes", votes);
  if (j &&
      (wi_set_str(j, "rid", rid) || wi_set_str(j, "node", node) || wi_set_str(j, "poll", poll))) {
    json_decref(j);
    return NULL;
  }
  return checked(j, votes_scratch_check, &chk);
}

int wire_hand_up_check(json_t *root, wire_hand_up *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  int rc = wi_type(root, "hand", err);
  if (rc) return rc;
  if ((rc = wire_up_from_check(root, "hand", &out->from, err)) ||
      (rc = wi_bool(root, "raised", true, false, &out->raised, "hand", err))) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  return 0;
}

static int hand_scratch_check(json_t *j, void *out, wire_err *err) {
  return wire_hand_up_check(j, out, err);
}

json_t *wire_hand_up_json(const wire_hand_up *h) {
  wire_hand_up chk;
  json_t *j = wire_up_from_json("hand", &h->from);
  if (j) json_object_set_new(j, "raised", json_boolean(h->raised));
  return checked(j, hand_scratch_check, &chk);
}

int wire_moderate_up_check(json_t *root, wire_moderate_up *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  const char *op;
  int64_t mp;
  bool ap_set = json_object_get(root, "auto_promote") != NULL, ap = false;
  int rc = wi_type(root, "moderate", err);
  if (rc) return rc;
  if ((rc = wire_up_from_check(root, "moderate", &out->from, err)) ||
      (rc = wi_str(root, "op", WI_REQUIRED | WI_TOKEN, 1, WIRE_TYPE_MAX, &op, "moderate", err)) ||
      (rc = wi_str(root, "target", WI_NO_CTRL, 1, WIRE_ID_MAX, &out->target, "moderate", err)) ||
      (rc = wi_str(root, "poll", WI_NO_CTRL, 1, WIRE_POLL_ID_MAX, &out->poll, "moderate", err)) ||
      (rc = wi_int(root, "max_participants", false, 0, 1000000, -1, &mp, "moderate", err)) ||
      (rc = wi_bool(root, "auto_promote", false, false, &ap, "moderate", err)))
    goto fail;
  out->op = WIRE_MOD__COUNT;
  for (int i = 0; i < WIRE_MOD__COUNT; i++)
    if (!strcmp(op, op_names[i])) out->op = (wire_mod_op)i;
  if (out->op == WIRE_MOD__COUNT) {
    rc = wi_fail(err, WIRE_ETYPE, "moderate: unknown op");
    goto fail;
  }
  if ((out->op <= WIRE_MOD_DEMOTE && !out->target) ||
      (out->op == WIRE_MOD_POLL_CLOSE && !out->poll)) {
    rc = wi_fail(err, WIRE_EFIELD, "moderate: %s needs \"%s\"", op,
                 out->op == WIRE_MOD_POLL_CLOSE ? "poll" : "target");
    goto fail;
  }
  out->max_participants = (int)mp;
  out->auto_promote = ap_set ? ap : -1;
  return 0;
fail:
  memset(out, 0, sizeof *out);
  return rc;
}

static int moderate_scratch_check(json_t *j, void *out, wire_err *err) {
  return wire_moderate_up_check(j, out, err);
}

json_t *wire_moderate_up_json(const wire_moderate_up *m) {
  wire_moderate_up chk;
  json_t *j = wire_up_from_json("moderate", &m->from);
  if (j && (wi_set_str(j, "op", wire_mod_op_name(m->op)) || wi_set_str(j, "target", m->target) ||
            wi_set_str(j, "poll", m->poll))) {
    json_decref(j);
    return NULL;
  }
  if (j && m->max_participants >= 0)
    json_object_set_new(j, "max_participants", json_integer(m->max_participants));
  if (j && m->auto_promote >= 0)
    json_object_set_new(j, "auto_promote", json_boolean(m->auto_promote));
  return checked(j, moderate_scratch_check, &chk);
}
