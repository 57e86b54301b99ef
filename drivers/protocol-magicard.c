/* The Magicard driver over a transport: port status and REQ,ERR for the state, REQ,STA,TCQ
 * (total cards) before and after a card so "printed" is never a guess. The card is fed once
 * the printer has the front block's whole header. */
#include <string.h>

#include "driver-private.h"
#include "error.h"
#include "magicard.h"

#define POLL_MS 50
#define MAX_REPLY 4096

typedef struct {
  cs_transport_t *t;
  cs_magicard_head_t head;
  cs_printer_settings_t settings;
} mc_t;

static gboolean is_magicard(const char *id) {
  g_autofree char *low = g_ascii_strdown(id, -1);
  return strstr(low, "mfg:magicard") != NULL || strstr(low, "manufacturer:magicard") != NULL;
}

static gpointer mc_open(cs_transport_t *t, const char *model, const cs_printer_settings_t *s,
                        cs_printer_caps_t *caps, GError **error) {
  g_autoptr(cs_transport_t) owned = t;
  cs_magicard_head_t head;
  if (g_strcmp0(model, "rio") == 0) {
    head = CS_MAGICARD_KEE;
    caps->model = "Magicard Rio/Tango 2e";
  } else if (g_strcmp0(model, "enduro") == 0) {
    head = CS_MAGICARD_KGE2;
    caps->model = "Magicard Enduro";
  } else {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s: no Magicard model “%s” (known: rio, enduro)", t->name, model ? model : "");
    return NULL;
  }
  g_autofree char *id = cs_transport_device_id(t, error);
  if (id == NULL)
    return NULL;
  if (!is_magicard(id)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s is not a Magicard printer (device ID “%s”)",
                t->name, id);
    return NULL;
  }
  caps->duplex = TRUE;
  cs_plane_geometry_init(&caps->geometry, CS_MAGICARD_ROWS, CS_MAGICARD_DOTS, 300);
  caps->ribbons = "YMCKO,YMCKOK,KO,K";
  caps->wants_pdf = FALSE;
  mc_t *m = g_new0(mc_t, 1);
  m->t = g_steal_pointer(&owned);
  m->head = head;
  m->settings = *s;
  return m;
}

static void mc_close(gpointer p) {
  mc_t *m = p;
  if (m == NULL)
    return;
  cs_transport_free(m->t);
  g_free(m);
}

/* Sends a query and reads its reply up to the 03 that ends it. */
static GBytes *query(mc_t *m, GBytes *q, GError **error) {
  guint8 buf[1024];
  /* a late reply to an earlier query must not be taken for this one's */
  for (guint i = 0; i < 64; i++) {
    gssize n = cs_transport_read(m->t, buf, sizeof buf, 0, error);
    if (n < 0)
      return NULL;
    if (n == 0)
      break;
  }
  gsize qlen = 0;
  const guint8 *qdata = g_bytes_get_data(q, &qlen);
  if (!cs_transport_write(m->t, qdata, qlen, NULL, error))
    return NULL;
  g_autoptr(GByteArray) reply = g_byte_array_new();
  gint64 deadline = g_get_monotonic_time() + (gint64)m->settings.timeout_ms * 1000;
  for (;;) {
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;
    gssize n = cs_transport_read(m->t, buf, sizeof buf, (guint)CLAMP(left, 0, 200), error);
    if (n < 0)
      return NULL;
    g_byte_array_append(reply, buf, (guint)n);
    /* from the 01 on: a USB read may start with a stray byte */
    const guint8 *soh = reply->len ? memchr(reply->data, 0x01, reply->len) : NULL;
    gsize rest = soh ? reply->len - (gsize)(soh - reply->data) : 0;
    if (soh && memchr(soh, 0x03, rest))
      return g_bytes_new(soh, rest);
    if (reply->len >= MAX_REPLY) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: a reply of over %u bytes with no end",
                  m->t->name, MAX_REPLY);
      return NULL;
    }
    if (n == 0) {
      if (left <= 0) {
        g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: no reply within %u ms", m->t->name,
                    m->settings.timeout_ms);
        return NULL;
      }
      g_usleep(10000); /* a transport that does not wait (the emulator) */
    }
  }
}

static gboolean read_counter(mc_t *m, guint64 *count, GError **error) {
  g_autoptr(GBytes) q = cs_magicard_sta_query("TCQ");
  g_autoptr(GBytes) reply = query(m, q, error);
  if (reply == NULL)
    return FALSE;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(reply, &len);
  g_autofree char *value = NULL;
  if (!cs_magicard_parse_sta(data, len, "TCQ", &value, error))
    return FALSE;
  g_autoptr(GError) local = NULL;
  if (!g_ascii_string_to_unsigned(g_strstrip(value), 10, 0, G_MAXUINT64, count, &local)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: card counter “%s” is not a number",
                m->t->name, value);
    return FALSE;
  }
  return TRUE;
}

static cs_printer_state_t state_of_code(const char *code) {
  static const struct {
    const char *code;
    cs_printer_state_t state;
  } codes[] = {{"11:01", CS_PRINTER_FEEDER_EMPTY},
               {"03:01", CS_PRINTER_RIBBON_OUT},
               {"06:01", CS_PRINTER_COVER_OPEN},
               {"12:01", CS_PRINTER_JAM}};
  for (guint i = 0; i < G_N_ELEMENTS(codes); i++)
    if (g_str_equal(code, codes[i].code))
      return codes[i].state;
  return CS_PRINTER_ERROR;
}

/* The printer's state. A fault the port status byte names is taken as is unless ask_always;
 * otherwise REQ,ERR says which, and *message (may be NULL) gets the printer's words.
 * OFFLINE, or ERROR (the printer's message in the error), set error. */
static cs_printer_state_t probe(mc_t *m, gboolean ask_always, char **message, GError **error) {
  if (message)
    *message = NULL;
  guint8 port = 0;
  if (!cs_transport_port_status(m->t, &port, error))
    return CS_PRINTER_OFFLINE;
  if ((port & (CS_PORT_NOT_ERROR | CS_PORT_SELECTED)) == (CS_PORT_NOT_ERROR | CS_PORT_SELECTED))
    return CS_PRINTER_READY;
  if (port & CS_PORT_NOT_ERROR)
    return CS_PRINTER_PRINTING;
  cs_printer_state_t named = (port & CS_PORT_PAPER_EMPTY) ? CS_PRINTER_FEEDER_EMPTY
                             : (port & CS_PORT_JAM)       ? CS_PRINTER_JAM
                             : (port & CS_PORT_COVER_OPEN) ? CS_PRINTER_COVER_OPEN
                                                           : CS_PRINTER_ERROR;
  if (named != CS_PRINTER_ERROR && !ask_always)
    return named;

  g_autoptr(GBytes) q = cs_magicard_error_query();
  g_autoptr(GError) qerr = NULL;
  g_autoptr(GBytes) reply = query(m, q, &qerr);
  cs_magicard_status_t st;
  gsize len = 0;
  const guint8 *data = reply ? g_bytes_get_data(reply, &len) : NULL;
  if (reply == NULL || !cs_magicard_parse_status(data, len, &st, &qerr)) {
    guint8 again = 0;
    if (!cs_transport_port_status(m->t, &again, NULL)) {
      g_propagate_error(error, g_steal_pointer(&qerr));
      return CS_PRINTER_OFFLINE;
    }
    if (named != CS_PRINTER_ERROR)
      return named;
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "%s reports a fault (port status %02X) and no readable reply to REQ,ERR: %s",
                m->t->name, port, qerr->message);
    return CS_PRINTER_ERROR;
  }
  cs_printer_state_t state = state_of_code(st.code);
  g_autofree char *words = g_strdup_printf("“%s” (code %s, %s)", st.message, st.code, st.detail);
  if (state == CS_PRINTER_ERROR)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s reports a fault: %s", m->t->name, words);
  if (message)
    *message = g_steal_pointer(&words);
  return state;
}

static cs_printer_state_t mc_status(gpointer p, GError **error) {
  return probe(p, FALSE, NULL, error);
}

/* Offset just past the front block's header FS: the printer feeds a card once it has it. */
static gsize feed_point(const guint8 *data, gsize len) {
  const guint8 *fs = len > 64 ? memchr(data + 64, 0x1c, len - 64) : NULL;
  return fs ? (gsize)(fs - data) + 1 : len;
}

/* After the whole card: printed once the printer is ready again and its card counter moved by
 * exactly one. Anything else needs an operator. */
static gboolean confirm(mc_t *m, guint64 n0, GError **error) {
  gint64 deadline = g_get_monotonic_time() + (gint64)m->settings.timeout_ms * 1000;
  g_autoptr(GError) last = NULL;
  for (;;) {
    g_autofree char *message = NULL;
    g_autoptr(GError) local = NULL;
    cs_printer_state_t state = probe(m, TRUE, &message, &local);
    guint64 n = n0;
    if (state == CS_PRINTER_OFFLINE) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                  "lost the printer after sending the card, which may be partly printed: %s",
                  local->message);
      return FALSE;
    }
    if (state == CS_PRINTER_READY) {
      g_clear_error(&last);
      if (read_counter(m, &n, &last) && n == n0 + 1)
        return TRUE;
    } else if (state == CS_PRINTER_FEEDER_EMPTY) {
      /* the counter moved: our card was fed before the hopper ran out, and an empty feeder
       * stops only the next feed */
      if (read_counter(m, &n, NULL) && n == n0 + 1)
        return TRUE;
    }
    if (n > n0 + 1) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                  "%s: the card counter went from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                  " for one card: look at what was printed",
                  m->t->name, n0, n);
      return FALSE;
    }
    if (state != CS_PRINTER_READY && state != CS_PRINTER_PRINTING) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                  "%s: %s after the card was sent; it may be partly printed: %s", m->t->name,
                  cs_printer_state_name(state),
                  message ? message : local ? local->message : "no message from the printer");
      return FALSE;
    }
    if (g_get_monotonic_time() >= deadline) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                  "%s: no confirmation that the card printed within %u ms (the card counter did "
                  "not move%s%s): look at the printer",
                  m->t->name, m->settings.timeout_ms, last ? "; " : "",
                  last ? last->message : "");
      return FALSE;
    }
    g_usleep(POLL_MS * 1000);
  }
}

static gboolean print_card(mc_t *m, const cs_card_job_t *job, GError **error) {
  g_autoptr(GError) local = NULL;
  if (job->front == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE, "a card needs a front");
    return FALSE;
  }
  g_autoptr(cs_panels_t) front = cs_panels_separate(job->front, &m->settings, 0, &local);
  g_autoptr(cs_panels_t) back =
      front && job->back ? cs_panels_separate(job->back, &m->settings, 1, &local) : NULL;
  g_autoptr(GBytes) stream = NULL;
  if (front && (back || !job->back))
    stream = cs_magicard_encode_card(m->head, front, back, &m->settings,
                                     g_get_real_time() / G_USEC_PER_SEC, &local);
  if (stream == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: nothing sent: %s", m->t->name,
                local ? local->message : "the card's planes cannot be separated");
    return FALSE;
  }

  g_autofree char *message = NULL;
  cs_printer_state_t state = probe(m, FALSE, &message, &local);
  if (state != CS_PRINTER_READY) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: nothing sent (%s%s%s)",
                cs_printer_state_name(state), m->t->name,
                local || message ? ": " : "", local ? local->message : message ? message : "");
    return FALSE;
  }
  guint64 n0 = 0;
  if (!read_counter(m, &n0, &local)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "cannot read the printer's card counter, so nothing sent: %s", local->message);
    return FALSE;
  }

  gsize len = 0, sent = 0;
  const guint8 *data = g_bytes_get_data(stream, &len);
  if (!cs_transport_write(m->t, data, len, &sent, &local)) {
    if (sent < feed_point(data, len))
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                  "the card was not fed, nothing printed (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                  " bytes sent): %s",
                  sent, len, local->message);
    else
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                  "sending stopped after the card was fed (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                  " bytes): it may be partly printed: %s",
                  sent, len, local->message);
    return FALSE;
  }
  return confirm(m, n0, error);
}

static gboolean mc_print(gpointer p, const cs_card_job_t *job, GError **error) {
  if (print_card(p, job, error))
    return TRUE;
  /* the operator finds the card by its job */
  g_prefix_error(error, "job %s: ", job->job_id ? job->job_id : "-");
  return FALSE;
}

const cs_protocol_class_t cs_protocol_magicard = {"magicard", mc_open, mc_close, mc_status,
                                                  mc_print};
