/* emulator://MODEL[?settings][&fault=NAME[&fault-after=BYTES]][&faults=SCHEDULE]
 *                 [&journal=PATH][&operator=PATH]
 * A printer protocol driver talking to an in-process emulator (emulator.h), so tests and the
 * daemon's crash and fault tests run the real Evolis and Magicard drivers with no hardware.
 * MODEL: evolis, magicard-rio, magicard-enduro.
 *
 * For the daemon's fault tests the device also has a life of its own (docs/printers.md):
 *   faults=NAME@N/feed|mid,…  NAME strikes at the N-th card sent to this printer (1: the
 *     first, counted over the journal's whole life, so across reopening and restarts). feed:
 *     the fault is there when the card comes, the driver finds the printer at fault and sends
 *     nothing (not fed). mid: it strikes MID_BYTES into the card, once it was fed (partly
 *     printed; a feeder running empty lets that card finish and stops the next).
 *   A fault stays until the operator fixes the printer: operator=PATH is a file whose
 *     appearance says so (ribbon replaced, cards loaded, cover closed, jam cleared, cable
 *     back); the device clears the fault and removes the file. An unplugged cable is back once
 *     the device is opened again, as a USB printer plugged back in is found again.
 *   journal=PATH: one JSON line per card sent, per fault and per fix, each appended and
 *     fsync'ed before the driver's call returns. A printed card's QR is read back (zbar) from
 *     the emulator's decoded K panel: what reached plastic, not what the driver meant to send.
 *     The journal is also the printer's memory: opened again it counts on from its last card
 *     and still has its fault. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "driver-private.h"
#include "emulator.h"
#include "error.h"
#include "io.h"
#include "scan.h"

/* inside the front's first panel for every model (the matrix of test-printers.c uses it) */
#define MID_BYTES 60000

typedef struct {
  cs_fault_t fault;
  guint64 card;
  gboolean mid;
} scheduled_t;

typedef struct {
  cs_emulator_t *emu;
  const cs_protocol_class_t *proto;
  gpointer state;
  char *journal;        /* NULL: none */
  char *operator_file;  /* NULL: none */
  GArray *schedule;     /* scheduled_t */
  guint64 cards;        /* cards sent so far, the journal's included */
  cs_fault_t logged;    /* the fault the journal says is active */
} emu_device_t;

static void device_free(emu_device_t *d) {
  if (d == NULL)
    return;
  if (d->state)
    d->proto->close(d->state);
  cs_emulator_free(d->emu);
  g_free(d->journal);
  g_free(d->operator_file);
  if (d->schedule)
    g_array_unref(d->schedule);
  g_free(d);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(emu_device_t, device_free)

/* "jam@37/mid,ribbon-out@80/feed" */
static gboolean parse_schedule(GArray *out, const char *text, GError **error) {
  g_auto(GStrv) items = g_strsplit(text, ",", -1);
  for (guint i = 0; items[i]; i++) {
    const char *item = items[i];
    const char *at = strchr(item, '@'), *slash = at ? strchr(at, '/') : NULL;
    scheduled_t s = {0};
    g_autofree char *name = at ? g_strndup(item, at - item) : NULL;
    g_autofree char *number = slash ? g_strndup(at + 1, slash - at - 1) : NULL;
    if (slash == NULL || !cs_fault_from_name(name, &s.fault) || s.fault == CS_FAULT_NONE ||
        !g_ascii_string_to_unsigned(number, 10, 1, G_MAXUINT64, &s.card, NULL) ||
        !(g_str_equal(slash + 1, "feed") || g_str_equal(slash + 1, "mid"))) {
      g_set_error(error, CS_ERROR, CS_ERROR_PARSE,
                  "faults: “%s” is not FAULT@CARD/feed or FAULT@CARD/mid (faults: ribbon-out, "
                  "feeder-empty, cover-open, jam, unplug; CARD from 1)", item);
      return FALSE;
    }
    s.mid = g_str_equal(slash + 1, "mid");
    g_array_append_val(out, s);
  }
  return TRUE;
}

/* The device's own keys in the query: journal, operator and faults (fault and fault-after
 * are the emulator's). */
static gboolean parse_keys(emu_device_t *d, const char *query, GError **error) {
  g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
  for (guint i = 0; pairs[i]; i++) {
    const char *p = pairs[i];
    if (g_str_has_prefix(p, "journal=") || g_str_has_prefix(p, "operator=")) {
      gboolean journal = p[0] == 'j';
      const char *path = strchr(p, '=') + 1;
      if (!g_path_is_absolute(path)) {
        g_set_error(error, CS_ERROR, CS_ERROR_PARSE, "%s: “%s” is not an absolute path",
                    journal ? "journal" : "operator", path);
        return FALSE;
      }
      g_free(journal ? d->journal : d->operator_file);
      *(journal ? &d->journal : &d->operator_file) = g_strdup(path);
    } else if (g_str_has_prefix(p, "faults=") && !parse_schedule(d->schedule, p + 7, error)) {
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- the journal ---- */

static void journal_add(emu_device_t *d, JsonBuilder *b) {
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *line = json_to_string(root, FALSE);
  g_autoptr(GError) error = NULL;
  if (!cs_file_append_line(d->journal, line, &error))
    g_warning("emulator journal: %s", error->message);
}

static JsonBuilder *journal_begin(const char *event) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "event");
  json_builder_add_string_value(b, event);
  return b;
}

static void add_string(JsonBuilder *b, const char *name, const char *value) {
  json_builder_set_member_name(b, name);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

static void add_int(JsonBuilder *b, const char *name, gint64 value) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, value);
}

/* The emulator's fault, when the journal does not have it yet: at says when it struck
 * ("feed", "mid", or "idle" between cards). */
static void sync_fault(emu_device_t *d, const char *at) {
  cs_fault_t now = cs_emulator_fault(d->emu);
  if (now == d->logged || now == CS_FAULT_NONE)
    return;
  d->logged = now;
  if (d->journal == NULL)
    return;
  g_autoptr(JsonBuilder) b = journal_begin("fault");
  add_string(b, "fault", cs_fault_name(now));
  add_int(b, "card", (gint64)d->cards);
  add_string(b, "at", at);
  journal_add(d, b);
}

static void log_clear(emu_device_t *d, cs_fault_t fault, const char *by) {
  d->logged = CS_FAULT_NONE;
  if (d->journal == NULL)
    return;
  g_autoptr(JsonBuilder) b = journal_begin("clear");
  add_string(b, "fault", cs_fault_name(fault));
  add_string(b, "by", by);
  journal_add(d, b);
}

/* The operator's file appeared: the printer is fixed. */
static void operator_check(emu_device_t *d) {
  if (d->operator_file == NULL || !g_file_test(d->operator_file, G_FILE_TEST_EXISTS))
    return;
  g_unlink(d->operator_file);
  cs_fault_t fault = cs_emulator_fault(d->emu);
  if (fault == CS_FAULT_NONE && d->logged == CS_FAULT_NONE)
    return; /* nothing was wrong */
  cs_emulator_clear(d->emu);
  log_clear(d, fault != CS_FAULT_NONE ? fault : d->logged, "operator");
}

/* The cards sent before and the fault the printer still has. */
static void journal_replay(emu_device_t *d) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(d->journal, &text, NULL, NULL))
    return; /* a new printer */
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  cs_fault_t active = CS_FAULT_NONE;
  for (guint i = 0; lines[i]; i++) {
    g_autoptr(JsonParser) parser = json_parser_new();
    /* a line cut by a crash is not one */
    if (*lines[i] == '\0' || !json_parser_load_from_data(parser, lines[i], -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
      continue;
    JsonObject *o = json_node_get_object(json_parser_get_root(parser));
    const char *event = json_object_get_string_member_with_default(o, "event", "");
    if (g_str_equal(event, "card")) {
      gint64 n = json_object_get_int_member_with_default(o, "card", 0);
      d->cards = MAX(d->cards, (guint64)MAX(n, 0));
    } else if (g_str_equal(event, "fault")) {
      cs_fault_from_name(json_object_get_string_member_with_default(o, "fault", ""), &active);
    } else if (g_str_equal(event, "clear")) {
      active = CS_FAULT_NONE;
    }
  }
  d->logged = active;
  if (active == CS_FAULT_UNPLUG)
    log_clear(d, active, "reconnect");
  else if (active != CS_FAULT_NONE)
    cs_emulator_inject(d->emu, active, 0);
}

/* SHA-256 (hex) of the QR the emulator decoded onto the card's K panel, NULL when none reads. */
static char *card_qr_sha256(const cs_emu_card_t *card) {
  for (guint i = 0; i < 2; i++) {
    const cs_emu_side_t *side = &card->side[i];
    if (!side->present || side->k == NULL)
      continue;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, (int)side->width,
                                                    (int)side->height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
      cairo_surface_destroy(s);
      return NULL;
    }
    cairo_surface_flush(s);
    guint8 *data = cairo_image_surface_get_data(s);
    gsize stride = (gsize)cairo_image_surface_get_stride(s);
    for (guint y = 0; y < side->height; y++)
      for (guint x = 0; x < side->width; x++)
        data[y * stride + x] = side->k[(gsize)y * side->width + x] ? 255 : 0;
    cairo_surface_mark_dirty(s);
    g_auto(GStrv) codes = cs_scan_surface(s);
    cairo_surface_destroy(s);
    if (codes[0])
      return g_compute_checksum_for_string(G_CHECKSUM_SHA256, codes[0], -1);
  }
  return NULL;
}

static const char *outcome_name(cs_emu_outcome_t outcome) {
  switch (outcome) {
  case CS_EMU_PRINTED:
    return "printed";
  case CS_EMU_ABORTED:
    return "aborted";
  case CS_EMU_NOT_FED:
    return "not-fed";
  case CS_EMU_OPEN:
    break;
  }
  return "incomplete";
}

/* ---- the device ---- */

static gpointer emu_open(const char *uri, const char *rest, const cs_printer_settings_t *s,
                         cs_printer_caps_t *caps, GError **error) {
  g_autoptr(emu_device_t) d = g_new0(emu_device_t, 1);
  d->schedule = g_array_new(FALSE, FALSE, sizeof(scheduled_t));
  const char *query = strchr(rest, '?');
  if (query && !parse_keys(d, query + 1, error)) {
    g_prefix_error(error, "%s: ", uri);
    return NULL;
  }
  d->emu = cs_emulator_new(rest, error);
  if (d->emu == NULL) {
    g_prefix_error(error, "%s: ", uri);
    return NULL;
  }
  g_autofree char *name = query ? g_strndup(rest, query - rest) : g_strdup(rest);
  d->proto = g_str_has_prefix(name, "magicard") ? &cs_protocol_magicard : &cs_protocol_evolis;
  const char *model = g_str_has_prefix(name, "magicard-") ? name + 9 : name;
  d->state = d->proto->open(cs_transport_emulator_new(d->emu), model, s, caps, error);
  if (d->state == NULL)
    return NULL;
  /* the printer's memory comes back once the driver is connected (a fault now would make the
   * driver's own opening fail, and nothing would ever get to fix it) */
  if (d->journal)
    journal_replay(d);
  operator_check(d);
  return g_steal_pointer(&d);
}

static void emu_close(gpointer p) { device_free(p); }

static cs_printer_state_t emu_status(gpointer p, GError **error) {
  emu_device_t *d = p;
  operator_check(d);
  sync_fault(d, "idle");
  return d->proto->status(d->state, error);
}

static const scheduled_t *scheduled(const emu_device_t *d, guint64 card) {
  const scheduled_t *found = NULL;
  for (guint i = 0; i < d->schedule->len; i++) {
    const scheduled_t *s = &g_array_index(d->schedule, scheduled_t, i);
    if (s->card == card && (found == NULL || !s->mid)) /* feed first: the card never comes */
      found = s;
  }
  return found;
}

static gboolean emu_print(gpointer p, const cs_card_job_t *job, GError **error) {
  emu_device_t *d = p;
  operator_check(d);
  sync_fault(d, "idle");
  d->cards++;
  const scheduled_t *s = scheduled(d, d->cards);
  if (s && cs_emulator_fault(d->emu) == CS_FAULT_NONE) {
    cs_emulator_inject(d->emu, s->fault, s->mid ? MID_BYTES : 0);
    sync_fault(d, "feed");
  }
  guint before = cs_emulator_n_cards(d->emu);
  g_autoptr(GError) local = NULL;
  gboolean ok = d->proto->print(d->state, job, &local);
  cs_emulator_inject(d->emu, CS_FAULT_NONE, 0); /* a mid-card fault the card ended before */
  sync_fault(d, "mid");
  if (d->journal == NULL) {
    if (local)
      g_propagate_error(error, g_steal_pointer(&local));
    return ok;
  }

  guint after = cs_emulator_n_cards(d->emu);
  const cs_emu_card_t *card = after > before ? cs_emulator_card(d->emu, after - 1) : NULL;
  cs_emu_outcome_t outcome = card ? card->outcome : CS_EMU_NOT_FED;
  g_autofree char *qr = outcome == CS_EMU_PRINTED ? card_qr_sha256(card) : NULL;
  g_autoptr(JsonBuilder) b = journal_begin("card");
  add_int(b, "card", (gint64)d->cards);
  add_string(b, "job", job->job_id);
  add_string(b, "outcome", outcome_name(outcome));
  cs_fault_t fault = cs_emulator_fault(d->emu);
  add_string(b, "fault", fault != CS_FAULT_NONE ? cs_fault_name(fault) : NULL);
  add_string(b, "qr_sha256", qr);
  add_string(b, "driver", local ? local->message : NULL);
  journal_add(d, b);
  if (local)
    g_propagate_error(error, g_steal_pointer(&local));
  return ok;
}

const cs_device_class_t cs_device_emulator = {"emulator", emu_open, emu_close, emu_status,
                                              emu_print};

cs_emulator_t *cs_device_emulator_get(gpointer device) { return ((emu_device_t *)device)->emu; }
