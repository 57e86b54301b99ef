/* The Evolis driver over a transport: ACK/NACK mode (`Pem;4`), one answer read after every
 * command, so a fault is known at the command it struck and a card is reported printed only
 * once `Se` is acknowledged. Encoding is evolis.c's. */
#include <string.h>

#include "driver-private.h"
#include "error.h"
#include "evolis.h"
#include "panels.h"

#define ACK 0x06
#define NAK 0x15
#define TAIL_WAIT_MS 100 /* for the rest of a text answer that came without a terminator */

typedef struct {
  cs_transport_t *t;
  cs_printer_settings_t settings;
  char *model; /* caps->model points here */
  gboolean duplex;
  GByteArray *pending; /* answer bytes read but not parsed yet */
} evo_t;

typedef enum {
  EX_REPLY,     /* an answer was parsed */
  EX_NOT_SENT,  /* the write failed */
  EX_NO_ANSWER, /* nothing (or not a whole answer) within the timeout */
  EX_FAILED,    /* the read failed, or the answer made no sense */
} exchange_t;

static void evo_free(evo_t *e) {
  if (e == NULL)
    return;
  cs_transport_free(e->t);
  g_free(e->model);
  if (e->pending)
    g_byte_array_unref(e->pending);
  g_free(e);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(evo_t, evo_free)

static gboolean is_separator(guint8 b) { return b == '\r' || b == '\n' || b == '\0'; }

/* remaining time to the deadline in ms, at least 1 (0 means "forever" to libusb) */
static guint remaining_ms(gint64 deadline) {
  gint64 left = (deadline - g_get_monotonic_time()) / 1000;
  return left < 1 ? 1 : (guint)MIN(left, G_MAXUINT);
}

static gssize read_more(evo_t *e, guint timeout_ms, GError **error) {
  guint8 buf[512];
  gssize n = cs_transport_read(e->t, buf, sizeof buf, timeout_ms, error);
  if (n > 0)
    g_byte_array_append(e->pending, buf, (guint)n);
  return n;
}

/* One answer within settings.timeout_ms. Stray terminators and NUL padding between answers
 * are skipped. */
static exchange_t read_reply(evo_t *e, cs_evolis_reply_t *reply, GError **error) {
  guint timeout = e->settings.timeout_ms;
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout * 1000;
  gboolean tail_done = FALSE;
  for (;;) {
    guint skip = 0;
    while (skip < e->pending->len && is_separator(e->pending->data[skip]))
      skip++;
    g_byte_array_remove_range(e->pending, 0, skip);
    const guint8 *d = e->pending->data;
    guint len = e->pending->len;
    if (len > 0 && !(d[0] == NAK && len == 1)) {
      gsize used = 0;
      g_autoptr(GError) perr = NULL;
      if (!cs_evolis_parse_reply(d, len, reply, &used, &perr)) {
        g_byte_array_set_size(e->pending, 0);
        g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: garbled answer (%s)", e->t->name,
                    perr->message);
        return EX_FAILED;
      }
      /* text running to the end of what came may continue in the next transfer */
      gboolean open = reply->kind == CS_EVOLIS_REPLY_TEXT && used == len &&
                      !is_separator(d[len - 1]);
      if (!open || tail_done) {
        g_byte_array_remove_range(e->pending, 0, (guint)used);
        return EX_REPLY;
      }
      gssize n = read_more(e, MIN(TAIL_WAIT_MS, remaining_ms(deadline)), error);
      if (n < 0)
        return EX_FAILED;
      tail_done = n == 0;
      continue;
    }
    if (g_get_monotonic_time() >= deadline)
      break;
    gssize n = read_more(e, remaining_ms(deadline), error);
    if (n < 0)
      return EX_FAILED;
    if (n == 0)
      break;
  }
  g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: no answer within %u ms", e->t->name,
              timeout);
  return EX_NO_ANSWER;
}

/* Sends one frame and reads its answer. Anything already waiting is stale (an answer that
 * came after its command timed out), so it is dropped first. */
static exchange_t exchange(evo_t *e, GBytes *frame, cs_evolis_reply_t *reply, GError **error) {
  g_byte_array_set_size(e->pending, 0);
  gsize len;
  const guint8 *data = g_bytes_get_data(frame, &len);
  if (!cs_transport_write(e->t, data, len, NULL, error))
    return EX_NOT_SENT;
  return read_reply(e, reply, error);
}

/* A read command: its text, or NACK. Some firmware may ACK the command before answering,
 * so one ACK is passed over. */
static exchange_t query(evo_t *e, const char *command, cs_evolis_reply_t *reply,
                        GError **error) {
  g_autoptr(GBytes) frame = cs_evolis_command(command);
  exchange_t x = exchange(e, frame, reply, error);
  if (x == EX_REPLY && reply->kind == CS_EVOLIS_REPLY_ACK)
    x = read_reply(e, reply, error);
  return x;
}

static const char *nack_cause(char code) {
  switch (code) {
  case '1':
    return "command error";
  case '2':
    return "parameter error";
  case 'T':
    return "jam or mechanical time-out";
  case 'C':
    return "cover open";
  case 'F':
    return "feeder empty";
  case 'R':
    return "ribbon out";
  case 'K':
    return "magnetic checksum error";
  case 'D':
    return "magnetic data error";
  case 'W':
    return "magnetic write error";
  default:
    return NULL;
  }
}

static char *nack_text(char code) {
  const char *cause = nack_cause(code);
  return cause ? g_strdup_printf("%s (NAK %c)", cause, code)
               : g_strdup_printf("error code %c (NAK)", code);
}

static gboolean contains_nocase(const char *haystack, const char *needle) {
  g_autofree char *h = g_ascii_strdown(haystack, -1);
  g_autofree char *n = g_ascii_strdown(needle, -1);
  return strstr(h, n) != NULL;
}

static gpointer evo_open(cs_transport_t *t, const char *model, const cs_printer_settings_t *s,
                         cs_printer_caps_t *caps, GError **error) {
  (void)model; /* the printer names itself (Rtp) */
  g_autoptr(evo_t) e = g_new0(evo_t, 1);
  e->t = t;
  e->settings = *s;
  e->pending = g_byte_array_new();

  GError *local = NULL;
  g_autofree char *id = cs_transport_device_id(t, &local);
  if (id == NULL) {
    if (local == NULL)
      g_set_error(&local, CS_ERROR, CS_ERROR_PRINTER, "%s: no IEEE 1284 device ID", t->name);
    g_propagate_error(error, local);
    return NULL;
  }
  if (!contains_nocase(id, "MFG:Evolis") && !contains_nocase(id, "MANUFACTURER:Evolis")) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: not an Evolis printer (device ID “%s”)",
                t->name, id);
    return NULL;
  }

  /* answers on, so every command can be checked */
  cs_evolis_reply_t r;
  g_autoptr(GBytes) pem = cs_evolis_command("Pem;4");
  exchange_t x = exchange(e, pem, &r, error);
  if (x != EX_REPLY) {
    g_prefix_error(error, "switching on ACK/NACK answers (Pem;4): ");
    return NULL;
  }
  if (r.kind != CS_EVOLIS_REPLY_ACK) {
    g_autofree char *what = r.kind == CS_EVOLIS_REPLY_NACK ? nack_text(r.code)
                                                           : g_strdup_printf("“%s”", r.text);
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s: switching on ACK/NACK answers (Pem;4) was answered %s, not ACK", t->name,
                what);
    return NULL;
  }

  x = query(e, "Rtp", &r, error);
  if (x != EX_REPLY) {
    g_prefix_error(error, "reading the model (Rtp): ");
    return NULL;
  }
  if (r.kind != CS_EVOLIS_REPLY_TEXT) {
    g_autofree char *what = r.kind == CS_EVOLIS_REPLY_NACK ? nack_text(r.code) : g_strdup("ACK");
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s: reading the model (Rtp) was answered %s, not a name", t->name, what);
    return NULL;
  }
  const char *name = g_strstrip(r.text);
  e->model = g_ascii_strncasecmp(name, "Evolis", 6) == 0 ? g_strdup(name)
                                                          : g_strconcat("Evolis ", name, NULL);
  e->duplex = contains_nocase(name, "Duplex") || contains_nocase(name, "Dualys");

  memset(caps, 0, sizeof *caps);
  caps->model = e->model;
  caps->duplex = e->duplex;
  cs_plane_geometry_init(&caps->geometry, CS_EVOLIS_LINES, CS_EVOLIS_PIXELS, 300);
  caps->ribbons = "YMCKO,YMCKOK,KO,K";
  caps->wants_pdf = FALSE;
  return g_steal_pointer(&e);
}

static void evo_close(gpointer p) { evo_free(p); }

/* A NACK code as a state; FALSE for codes that name no printer condition. */
static gboolean nack_state(char code, cs_printer_state_t *state) {
  switch (code) {
  case 'R':
    *state = CS_PRINTER_RIBBON_OUT;
    return TRUE;
  case 'F':
    *state = CS_PRINTER_FEEDER_EMPTY;
    return TRUE;
  case 'C':
    *state = CS_PRINTER_COVER_OPEN;
    return TRUE;
  case 'T':
    *state = CS_PRINTER_JAM;
    return TRUE;
  default:
    return FALSE;
  }
}

static cs_printer_state_t evo_status(gpointer p, GError **error) {
  evo_t *e = p;
  guint8 port = 0;
  if (!cs_transport_port_status(e->t, &port, error))
    return CS_PRINTER_OFFLINE;
  /* no error, not selected: busy with a card */
  if ((port & CS_PORT_NOT_ERROR) && !(port & CS_PORT_SELECTED))
    return CS_PRINTER_PRINTING;

  cs_evolis_reply_t r;
  if (query(e, "Rcr", &r, error) != EX_REPLY)
    return CS_PRINTER_OFFLINE;
  if (r.kind == CS_EVOLIS_REPLY_NACK) {
    cs_printer_state_t state;
    if (nack_state(r.code, &state))
      return state;
    g_autofree char *what = nack_text(r.code);
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: the printer reports %s", e->t->name,
                what);
    return CS_PRINTER_ERROR;
  }
  if (r.kind == CS_EVOLIS_REPLY_TEXT && g_ascii_strcasecmp(g_strstrip(r.text), "OK") != 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: the ribbon check (Rcr) says “%s”",
                e->t->name, r.text);
    return CS_PRINTER_ERROR;
  }

  if (query(e, "Rco;l", &r, error) != EX_REPLY)
    return CS_PRINTER_OFFLINE;
  if (r.kind == CS_EVOLIS_REPLY_NACK) {
    cs_printer_state_t state;
    if (nack_state(r.code, &state))
      return state;
    return CS_PRINTER_READY; /* a printer without the counter is not at fault */
  }
  guint64 left;
  if (r.kind == CS_EVOLIS_REPLY_TEXT &&
      g_ascii_string_to_unsigned(g_strstrip(r.text), 10, 0, G_MAXUINT32, &left, NULL) &&
      left < 10)
    return CS_PRINTER_RIBBON_LOW;
  return CS_PRINTER_READY;
}

static const char *state_text(cs_printer_state_t state) {
  static const char *const texts[] = {"ready",        "busy printing",  "ribbon low",
                                      "ribbon out",   "feeder empty",   "cover open",
                                      "card jam",     "offline",        "printer error"};
  return (guint)state < G_N_ELEMENTS(texts) ? texts[state] : "unknown state";
}

/* "Pr;k", "Db;k;2", "Dbc;k;2;42832": the command without its payload, for messages */
static char *frame_name(GBytes *frame) {
  gsize n;
  const guint8 *d = g_bytes_get_data(frame, &n);
  guint fields = G_MAXUINT, seen = 0;
  if (n > 5 && memcmp(d + 1, "Dbc;", 4) == 0)
    fields = 4;
  else if (n > 4 && memcmp(d + 1, "Db;", 3) == 0)
    fields = 3;
  GString *s = g_string_new(NULL);
  for (gsize i = 1; i < n && d[i] != '\r'; i++) {
    if (d[i] == ';' && ++seen == fields)
      break;
    g_string_append_c(s, (char)d[i]);
  }
  return g_string_free(s, FALSE);
}

static cs_panels_t *separate(const cs_planes_t *planes, const cs_printer_settings_t *s,
                             guint side, GError **error) {
  GError *local = NULL;
  cs_panels_t *p = cs_panels_separate(planes, s, side, &local);
  if (p == NULL) {
    if (local == NULL) /* a refused argument: g_return_val_if_fail sets no error */
      g_set_error(&local, CS_ERROR, CS_ERROR_PRINTER, "the %s's planes are malformed",
                  side ? "back" : "front");
    g_propagate_error(error, local);
  }
  return p;
}

static gboolean evo_print(gpointer p, const cs_card_job_t *job, GError **error) {
  evo_t *e = p;
  const char *id = job->job_id ? job->job_id : "-";
  const cs_planes_t *sides[] = {job->front, job->back};
  if (job->front == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE, "job %s: a card needs a front", id);
    return FALSE;
  }
  if (job->back && !(e->duplex && e->settings.duplex)) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
                "job %s: %s prints one side only, and the card has a back", id, e->model);
    return FALSE;
  }
  for (guint i = 0; i < 2; i++)
    if (sides[i] && (sides[i]->geometry.width != CS_EVOLIS_LINES ||
                     sides[i]->geometry.height != CS_EVOLIS_PIXELS)) {
      g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
                  "job %s: the %s is %ux%u dots; %s takes %ux%u", id, i ? "back" : "front",
                  sides[i]->geometry.width, sides[i]->geometry.height, e->model,
                  CS_EVOLIS_LINES, CS_EVOLIS_PIXELS);
      return FALSE;
    }

  g_autoptr(cs_panels_t) front = separate(job->front, &e->settings, 0, error);
  if (front == NULL) {
    g_prefix_error(error, "job %s: ", id);
    return FALSE;
  }
  g_autoptr(cs_panels_t) back = NULL;
  if (job->back) {
    back = separate(job->back, &e->settings, 1, error);
    if (back == NULL) {
      g_prefix_error(error, "job %s: ", id);
      return FALSE;
    }
  }
  g_autoptr(GPtrArray) frames = cs_evolis_encode_frames(front, back, &e->settings, error);
  if (frames == NULL) {
    g_prefix_error(error, "job %s: ", id);
    return FALSE;
  }

  /* the card before may still be printing: wait for it as long as for any answer */
  g_autoptr(GError) serr = NULL;
  gint64 until = g_get_monotonic_time() + (gint64)e->settings.timeout_ms * 1000;
  cs_printer_state_t state = evo_status(e, &serr);
  while (state == CS_PRINTER_PRINTING && g_get_monotonic_time() < until) {
    g_usleep(100 * 1000);
    state = evo_status(e, &serr);
  }
  if (state != CS_PRINTER_READY && state != CS_PRINTER_RIBBON_LOW) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "job %s: %s: %s%s%s%s: nothing sent", id,
                e->model, state_text(state), serr ? " (" : "", serr ? serr->message : "",
                serr ? ")" : "");
    return FALSE;
  }

  gboolean fed = FALSE; /* `Ss` acknowledged: a card is in the printer */
  for (guint i = 0; i < frames->len; i++) {
    GBytes *frame = frames->pdata[i];
    g_autofree char *name = frame_name(frame);
    cs_evolis_reply_t r;
    g_autoptr(GError) xerr = NULL;
    exchange_t x = exchange(e, frame, &r, &xerr);
    g_autofree char *cause = NULL;
    if (x != EX_REPLY)
      cause = g_strdup(xerr->message);
    else if (r.kind == CS_EVOLIS_REPLY_NACK)
      cause = nack_text(r.code);
    else if (r.kind == CS_EVOLIS_REPLY_TEXT)
      cause = g_strdup_printf("unexpected answer “%s”", r.text);
    if (cause) {
      /* no answer to Ss itself: a card may sit in the printer, but no panel was sent */
      if (!fed)
        g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "job %s: %s at %s: %s", id, cause, name,
                    x != EX_REPLY && g_str_equal(name, "Ss")
                        ? "no panel was sent, nothing printed"
                        : "the card was not fed, nothing printed");
      else
        g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                    "job %s: %s at %s, after the card was fed: it may be partly printed; "
                    "check the printer and the card before printing it again",
                    id, cause, name);
      return FALSE;
    }
    if (g_str_equal(name, "Ss"))
      fed = TRUE;
  }
  return TRUE;
}

const cs_protocol_class_t cs_protocol_evolis = {"evolis", evo_open, evo_close, evo_status,
                                                evo_print};
