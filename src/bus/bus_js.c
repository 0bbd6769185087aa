/* The store on NATS: one JetStream stream (bus_store.h).
 *
 * Set-up and replay use libnats' JetStream calls, which block: they run once, at start-up.
 * Appends do not: a JetStream publish is a plain request on a subject the stream captures,
 * answered by the server with a PubAck once the record is stored, so appends go through
 * bus_request and their acknowledgements come back on the owner loop like every reply, in
 * the order the server sent them. Purges are requests on the stream's API subject, likewise. */
#include "bus/bus_store.h"

#include "bus/bus_internal.h"
#include "core/log.h"
#include "core/util.h"

#include <inttypes.h>
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_NAME_MAX 32
#define OPEN_WAIT_MS 5000   /* each set-up round trip */
#define REPLAY_BATCH 512    /* records per fetch */
#define REPLAY_WAIT_MS 3000 /* one fetch; the stream's end is known, so this is only a stall */

struct bus_store {
  bus_t *bus;
  natsConnection *nc;
  char stream[STREAM_NAME_MAX + 1];
  char subjects[BUS_SUBJECT_MAX];
};

typedef struct append_ctx {
  bus_store_ack_cb cb;
  void *ud;
} append_ctx;

static int name_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > STREAM_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

static void js_reason(char *err, size_t errlen, const char *what, natsStatus s, jsErrCode jerr) {
  const char *last = nats_GetLastError(NULL);
  snprintf(err, errlen, "jetstream: %s: %s (error %d)%s%.120s", what, natsStatus_GetText(s),
           (int)jerr, last && *last ? ": " : "", last ? last : "");
}

bus_store_t *bus_store_open(bus_t *bus, const bus_store_config *cfg, char *err, size_t errlen) {
  char dummy[8];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = '\0';
  if (!bus || !cfg || !name_ok(cfg->stream) || !cfg->subjects ||
      !bus__valid_subject(cfg->subjects, 1)) {
    snprintf(err, errlen, "store: bad stream name or subjects");
    return NULL;
  }
  natsConnection *nc = bus__nats_conn(bus);
  if (!nc) {
    snprintf(err, errlen, "store: the %s bus keeps no store", "local");
    return NULL;
  }
  jsCtx *js = NULL;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = OPEN_WAIT_MS;
  natsStatus s = natsConnection_JetStream(&js, nc, &jo);
  if (s != NATS_OK) {
    js_reason(err, errlen, "context", s, 0);
    return NULL;
  }
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  const char *subjects[1] = {cfg->subjects};
  sc.Name = cfg->stream;
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Retention = js_LimitsPolicy;
  sc.Discard = js_DiscardOld;
  sc.MaxAge = cfg->max_age_s > 0 ? cfg->max_age_s * (int64_t)1000000000 : 0;
  sc.MaxBytes = cfg->max_bytes > 0 ? cfg->max_bytes : -1;
  sc.Replicas = cfg->replicas > 0 ? cfg->replicas : 1;
  jsErrCode jerr = 0;
  /* Update first: on a restart the stream is there, and the configuration may have changed
   * (limits); only a missing stream is added. */
  s = js_UpdateStream(NULL, js, &sc, NULL, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    jerr = 0;
    s = js_AddStream(NULL, js, &sc, NULL, &jerr);
  }
  jsCtx_Destroy(js);
  if (s != NATS_OK) {
    js_reason(err, errlen, "stream", s, jerr);
    return NULL;
  }
  bus_store_t *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, errlen, "store: no memory");
    return NULL;
  }
  st->bus = bus;
  st->nc = nc;
  str_copy(st->stream, cfg->stream, sizeof st->stream);
  str_copy(st->subjects, cfg->subjects, sizeof st->subjects);
  log_info(bus_name(bus),
           "store: jetstream stream %s over %s (R%d, max age %" PRId64 " s, max bytes %" PRId64 ")",
           st->stream, st->subjects, (int)sc.Replicas, cfg->max_age_s, cfg->max_bytes);
  return st;
}

void bus_store_close(bus_store_t *st) { free(st); }

int bus_store_parse_ack(const uint8_t *data, size_t len, uint64_t *seq, char *why, size_t whylen) {
  if (why && whylen) why[0] = '\0';
  if (!data || !seq) return -1;
  *seq = 0;
  json_t *j = json_loadb((const char *)data, len, 0, NULL);
  if (!json_is_object(j)) {
    if (why && whylen) snprintf(why, whylen, "not a JetStream answer");
    json_decref(j);
    return -1;
  }
  json_t *e = json_object_get(j, "error");
  json_t *sq = json_object_get(j, "seq");
  int rc = -1;
  if (e) {
    const char *d = json_string_value(json_object_get(e, "description"));
    if (why && whylen) snprintf(why, whylen, "%.160s", d ? d : "refused");
  } else if (json_is_integer(sq) && json_integer_value(sq) > 0) {
    *seq = (uint64_t)json_integer_value(sq);
    rc = 0;
  } else if (why && whylen) {
    snprintf(why, whylen, "no seq in the answer");
  }
  json_decref(j);
  return rc;
}

static void on_append_reply(void *ud, int status, const uint8_t *data, size_t len) {
  append_ctx *x = ud;
  uint64_t seq = 0;
  if (status == BUS_OK) {
    char why[192];
    if (bus_store_parse_ack(data, len, &seq, why, sizeof why) != 0) {
      log_warn("store", "append refused: %s", why);
      status = BUS_ERROR;
    }
  }
  x->cb(x->ud, status, status == BUS_OK ? seq : 0);
  free(x);
}

int bus_store_append(bus_store_t *st, const char *subject, const void *data, size_t len,
                     int timeout_ms, bus_store_ack_cb cb, void *ud) {
  if (!st || !cb || !subject || !bus_subject_match(st->subjects, subject)) return BUS_ERROR;
  append_ctx *x = malloc(sizeof *x);
  if (!x) return BUS_ERROR;
  x->cb = cb;
  x->ud = ud;
  int rc = bus_request(st->bus, subject, data, len, timeout_ms, on_append_reply, x);
  if (rc != BUS_OK) free(x);
  return rc;
}

static void on_purge_reply(void *ud, int status, const uint8_t *data, size_t len) {
  (void)ud;
  if (status != BUS_OK) {
    log_warn("store", "purge: no answer (%d)", status);
    return;
  }
  json_t *j = json_loadb((const char *)data, len, 0, NULL);
  if (!json_is_true(json_object_get(j, "success")))
    log_warn("store", "purge refused: %.*s", (int)(len > 200 ? 200 : len), (const char *)data);
  json_decref(j);
}

int bus_store_purge(bus_store_t *st, const char *subject, uint64_t before_seq) {
  if (!st || !subject || !bus__valid_subject(subject, 0)) return BUS_ERROR;
  char api[BUS_SUBJECT_MAX];
  snprintf(api, sizeof api, "$JS.API.STREAM.PURGE.%s", st->stream);
  json_t *q = json_pack("{s:s}", "filter", subject);
  if (q && before_seq) json_object_set_new(q, "seq", json_integer((json_int_t)before_seq));
  char *text = q ? json_dumps(q, JSON_COMPACT) : NULL;
  json_decref(q);
  if (!text) return BUS_ERROR;
  int rc = bus_request(st->bus, api, text, strlen(text), OPEN_WAIT_MS, on_purge_reply, NULL);
  free(text);
  return rc;
}

int bus_store_replay(bus_store_t *st, bus_store_msg_cb cb, void *ud, char *err, size_t errlen) {
  char dummy[8];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = '\0';
  if (!st || !cb) return -1;
  jsCtx *js = NULL;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = OPEN_WAIT_MS;
  natsStatus s = natsConnection_JetStream(&js, st->nc, &jo);
  if (s != NATS_OK) {
    js_reason(err, errlen, "context", s, 0);
    return -1;
  }
  jsErrCode jerr = 0;
  jsStreamInfo *si = NULL;
  s = js_GetStreamInfo(&si, js, st->stream, NULL, &jerr);
  if (s != NATS_OK) {
    js_reason(err, errlen, "stream info", s, jerr);
    jsCtx_Destroy(js);
    return -1;
  }
  uint64_t last = si->State.LastSeq, msgs = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  if (msgs == 0) {
    jsCtx_Destroy(js);
    return 0;
  }
  /* An ephemeral pull consumer over the whole stream without acknowledgements: read once,
   * in order, then gone with the subscription. */
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = st->stream;
  so.Config.AckPolicy = js_AckNone;
  so.Config.DeliverPolicy = js_DeliverAll;
  natsSubscription *sub = NULL;
  s = js_PullSubscribe(&sub, js, st->subjects, NULL, NULL, &so, &jerr);
  if (s != NATS_OK) {
    js_reason(err, errlen, "consumer", s, jerr);
    jsCtx_Destroy(js);
    return -1;
  }
  uint64_t at = 0, count = 0;
  int rc = 0;
  while (at < last) {
    natsMsgList list = {0};
    s = natsSubscription_Fetch(&list, sub, REPLAY_BATCH, REPLAY_WAIT_MS, &jerr);
    if (s == NATS_TIMEOUT && list.Count == 0) break; /* the end was deleted meanwhile */
    if (s != NATS_OK) {
      js_reason(err, errlen, "fetch", s, jerr);
      rc = -1;
      break;
    }
    for (int i = 0; i < list.Count; i++) {
      natsMsg *msg = list.Msgs[i];
      jsMsgMetaData *meta = NULL;
      if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        at = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        cb(ud, natsMsg_GetSubject(msg), (const uint8_t *)natsMsg_GetData(msg),
           (size_t)natsMsg_GetDataLength(msg), at);
        count++;
      }
    }
    natsMsgList_Destroy(&list);
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  log_info(bus_name(st->bus), "store: replayed %" PRIu64 " record(s) of stream %s", count,
           st->stream);
  return rc;
}
