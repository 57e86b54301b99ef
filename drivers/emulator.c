/* The common part of the printer emulators: models, identity, fault injection at an exact
 * byte, the reply queue, the card and error lists. The protocols are emulator-evolis.c and
 * emulator-magicard.c. */
#include <string.h>

#include "emulator-private.h"
#include "error.h"

struct cs_emulator {
  const cs_emulator_class_t *cls;
  gpointer state;
  char *serial, *device_id;
  cs_fault_t fault;          /* active */
  cs_fault_t pending;        /* injected, not struck yet */
  guint64 pending_at;        /* strikes when bytes reaches this */
  guint64 bytes;
  GByteArray *replies;
  GPtrArray *cards;          /* cs_emu_card_t * */
  GPtrArray *errors;         /* char * */
  gboolean printing;
};

static const cs_emulator_class_t *const classes[] = {
    &cs_emulator_evolis, &cs_emulator_magicard_rio, &cs_emulator_magicard_enduro};

static const char *const fault_names[] = {"none", "ribbon-out", "feeder-empty", "cover-open",
                                          "jam", "unplug"};

const char *cs_fault_name(cs_fault_t fault) {
  return (guint)fault < G_N_ELEMENTS(fault_names) ? fault_names[fault] : "?";
}

gboolean cs_fault_from_name(const char *name, cs_fault_t *fault) {
  for (guint i = 0; name && i < G_N_ELEMENTS(fault_names); i++)
    if (g_str_equal(name, fault_names[i])) {
      *fault = (cs_fault_t)i;
      return TRUE;
    }
  return FALSE;
}

static void side_clear(cs_emu_side_t *side) {
  g_clear_pointer(&side->y, g_free);
  g_clear_pointer(&side->m, g_free);
  g_clear_pointer(&side->c, g_free);
  g_clear_pointer(&side->k, g_free);
  g_clear_pointer(&side->o, g_free);
}

static void card_free(gpointer p) {
  cs_emu_card_t *card = p;
  side_clear(&card->side[0]);
  side_clear(&card->side[1]);
  g_free(card->ribbon);
  g_ptr_array_unref(card->commands);
  g_free(card);
}

/* "fault=jam&fault-after=1000": the emulator:// device's own keys; others are not ours */
static gboolean parse_query(cs_emulator_t *e, const char *query, GError **error) {
  cs_fault_t fault = CS_FAULT_NONE;
  guint64 after = 0;
  g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
  for (guint i = 0; pairs[i]; i++) {
    if (g_str_has_prefix(pairs[i], "fault=")) {
      if (!cs_fault_from_name(pairs[i] + 6, &fault) || fault == CS_FAULT_NONE) {
        g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
                    "unknown fault “%s” (faults: ribbon-out, feeder-empty, cover-open, jam, "
                    "unplug)", pairs[i] + 6);
        return FALSE;
      }
    } else if (g_str_has_prefix(pairs[i], "fault-after=")) {
      g_autoptr(GError) local = NULL;
      if (!g_ascii_string_to_unsigned(pairs[i] + 12, 10, 0, G_MAXUINT64, &after, &local)) {
        g_set_error(error, CS_ERROR, CS_ERROR_PARSE, "fault-after: %s", local->message);
        return FALSE;
      }
    }
  }
  if (fault != CS_FAULT_NONE)
    cs_emulator_inject(e, fault, after);
  return TRUE;
}

cs_emulator_t *cs_emulator_new(const char *model, GError **error) {
  g_return_val_if_fail(model != NULL, NULL);
  const char *query = strchr(model, '?');
  g_autofree char *name = query ? g_strndup(model, query - model) : g_strdup(model);
  const cs_emulator_class_t *cls = NULL;
  for (guint i = 0; i < G_N_ELEMENTS(classes); i++)
    if (g_str_equal(name, classes[i]->model))
      cls = classes[i];
  if (cls == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
                "no emulator for “%s” (models: evolis, magicard-rio, magicard-enduro)", name);
    return NULL;
  }
  cs_emulator_t *e = g_new0(cs_emulator_t, 1);
  e->cls = cls;
  /* one fixed serial: tests compare it, and emulators are told apart by their URI */
  e->serial = g_strdup("EMU0001");
  e->device_id = g_strdup_printf("%sSN:%s;", cls->device_id, e->serial);
  e->replies = g_byte_array_new();
  e->cards = g_ptr_array_new_with_free_func(card_free);
  e->errors = g_ptr_array_new_with_free_func(g_free);
  e->state = cls->new(e);
  if (query && !parse_query(e, query + 1, error)) {
    cs_emulator_free(e);
    return NULL;
  }
  return e;
}

void cs_emulator_free(cs_emulator_t *e) {
  if (e == NULL)
    return;
  e->cls->free(e->state);
  g_free(e->serial);
  g_free(e->device_id);
  g_byte_array_unref(e->replies);
  g_ptr_array_unref(e->cards);
  g_ptr_array_unref(e->errors);
  g_free(e);
}

const char *cs_emulator_model(const cs_emulator_t *e) { return e->cls->model; }
const char *cs_emulator_serial(const cs_emulator_t *e) { return e->serial; }
guint16 cs_emulator_vid(const cs_emulator_t *e) { return e->cls->vid; }
guint16 cs_emulator_pid(const cs_emulator_t *e) { return e->cls->pid; }
const char *cs_emulator_device_id(const cs_emulator_t *e) { return e->device_id; }

static void strike(cs_emulator_t *e) {
  e->fault = e->pending;
  e->pending = CS_FAULT_NONE;
  if (e->fault == CS_FAULT_UNPLUG)
    g_byte_array_set_size(e->replies, 0); /* what was on its way is lost with the cable */
  e->cls->fault(e, e->state, e->fault);
}

gboolean cs_emulator_write(cs_emulator_t *e, const guint8 *data, gsize len, GError **error) {
  gsize off = 0;
  while (e->fault != CS_FAULT_UNPLUG) {
    if (e->pending != CS_FAULT_NONE && e->bytes >= e->pending_at) {
      strike(e);
      /* the cable went right after this write's last byte: that byte still arrived */
      if (e->fault == CS_FAULT_UNPLUG && off == len && len > 0)
        return TRUE;
      continue;
    }
    if (off == len)
      return TRUE;
    gsize n = len - off;
    if (e->pending != CS_FAULT_NONE)
      n = (gsize)MIN((guint64)n, e->pending_at - e->bytes);
    e->bytes += n;
    e->cls->feed(e, e->state, data + off, n);
    off += n;
  }
  g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "disconnected");
  return FALSE;
}

gssize cs_emulator_read(cs_emulator_t *e, guint8 *buf, gsize len) {
  if (e->fault == CS_FAULT_UNPLUG)
    return -1;
  gsize n = MIN(len, e->replies->len);
  if (n) {
    memcpy(buf, e->replies->data, n);
    g_byte_array_remove_range(e->replies, 0, n);
  }
  return n;
}

guint8 cs_emulator_port_status(const cs_emulator_t *e) {
  switch (e->fault) {
  case CS_FAULT_RIBBON_OUT:
    return 0x10;
  case CS_FAULT_FEEDER_EMPTY:
    return 0x30;
  case CS_FAULT_JAM:
    return 0x50;
  case CS_FAULT_COVER_OPEN:
    return 0x90;
  case CS_FAULT_UNPLUG:
    return 0x00; /* nobody answers; the transports check the fault first */
  case CS_FAULT_NONE:
    break;
  }
  return e->printing ? 0x08 : 0x18;
}

void cs_emulator_inject(cs_emulator_t *e, cs_fault_t fault, guint64 after_bytes) {
  if (fault == CS_FAULT_NONE) {
    e->pending = CS_FAULT_NONE;
    return;
  }
  e->pending = fault;
  e->pending_at = e->bytes + after_bytes;
  if (after_bytes == 0)
    strike(e);
}

void cs_emulator_clear(cs_emulator_t *e) {
  e->fault = CS_FAULT_NONE;
  e->pending = CS_FAULT_NONE;
  g_byte_array_set_size(e->replies, 0);
  e->cls->reset(e, e->state);
  e->printing = FALSE;
}

cs_fault_t cs_emulator_fault(const cs_emulator_t *e) { return e->fault; }
guint cs_emulator_n_cards(const cs_emulator_t *e) { return e->cards->len; }

const cs_emu_card_t *cs_emulator_card(const cs_emulator_t *e, guint index) {
  return index < e->cards->len ? g_ptr_array_index(e->cards, index) : NULL;
}

guint64 cs_emulator_bytes(const cs_emulator_t *e) { return e->bytes; }
const GPtrArray *cs_emulator_errors(const cs_emulator_t *e) { return e->errors; }

/* ---- helpers for the protocols ---- */

void cs_emu_reply(cs_emulator_t *e, const void *data, gsize len) {
  if (e->fault == CS_FAULT_UNPLUG)
    return;
  /* a host that never reads must not make us grow without end: keep the newest 64 KiB */
  if (e->replies->len + len > 65536)
    g_byte_array_remove_range(e->replies, 0, MIN(e->replies->len, e->replies->len + len - 65536));
  g_byte_array_append(e->replies, data, MIN(len, 65536));
}

void cs_emu_error(cs_emulator_t *e, const char *format, ...) {
  if (e->errors->len > CS_EMU_MAX_ERRORS)
    return;
  if (e->errors->len == CS_EMU_MAX_ERRORS) {
    g_ptr_array_add(e->errors, g_strdup("more errors not recorded"));
    return;
  }
  va_list args;
  va_start(args, format);
  g_ptr_array_add(e->errors, g_strdup_vprintf(format, args));
  va_end(args);
}

cs_emu_card_t *cs_emu_card_new(cs_emulator_t *e) {
  cs_emu_card_t *card = g_new0(cs_emu_card_t, 1);
  card->outcome = CS_EMU_OPEN;
  card->ribbon = g_strdup("");
  card->commands = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(e->cards, card);
  if (e->cards->len > CS_EMU_KEEP_MAPS) {
    cs_emu_card_t *old = g_ptr_array_index(e->cards, e->cards->len - CS_EMU_KEEP_MAPS - 1);
    side_clear(&old->side[0]);
    side_clear(&old->side[1]);
  }
  return card;
}

void cs_emu_side_init(cs_emu_side_t *side, guint width, guint height, guint colour_bits,
                      gboolean colour, gboolean k, gboolean o) {
  side_clear(side);
  side->present = TRUE;
  side->width = width;
  side->height = height;
  side->colour_bits = colour_bits;
  gsize n = (gsize)width * height;
  if (colour) {
    side->y = g_malloc0(n);
    side->m = g_malloc0(n);
    side->c = g_malloc0(n);
  }
  side->k = k ? g_malloc0(n) : NULL;
  side->o = o ? g_malloc0(n) : NULL;
}

guint8 *cs_emu_side_map(cs_emu_side_t *side, char panel, guint width, guint height,
                        gboolean *fresh) {
  guint8 **map;
  switch (panel) {
  case 'y':
    map = &side->y;
    break;
  case 'm':
    map = &side->m;
    break;
  case 'c':
    map = &side->c;
    break;
  case 'k':
    map = &side->k;
    break;
  case 'o':
    map = &side->o;
    break;
  default:
    g_return_val_if_reached(NULL);
  }
  side->present = TRUE;
  side->width = width;
  side->height = height;
  if (fresh)
    *fresh = *map == NULL;
  if (*map == NULL)
    *map = g_malloc0((gsize)width * height);
  return *map;
}

guint cs_emu_fed_cards(const cs_emulator_t *e) {
  guint n = 0;
  for (guint i = 0; i < e->cards->len; i++)
    n += ((cs_emu_card_t *)g_ptr_array_index(e->cards, i))->outcome != CS_EMU_NOT_FED;
  return n;
}

void cs_emu_set_printing(cs_emulator_t *e, gboolean printing) { e->printing = printing; }
