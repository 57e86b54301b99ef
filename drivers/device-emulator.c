/* emulator://MODEL[?settings][&fault=NAME[&fault-after=BYTES]]: a printer protocol driver
 * talking to an in-process emulator (emulator.h), so tests and the daemon's crash tests run
 * the real Evolis and Magicard drivers with no hardware. MODEL: evolis, magicard-rio,
 * magicard-enduro. */
#include <string.h>

#include "driver-private.h"
#include "emulator.h"
#include "error.h"

typedef struct {
  cs_emulator_t *emu;
  const cs_protocol_class_t *proto;
  gpointer state;
} emu_device_t;

static gpointer emu_open(const char *uri, const char *rest, const cs_printer_settings_t *s,
                         cs_printer_caps_t *caps, GError **error) {
  g_autoptr(cs_emulator_t) emu = cs_emulator_new(rest, error);
  if (emu == NULL) {
    g_prefix_error(error, "%s: ", uri);
    return NULL;
  }
  const cs_protocol_class_t *proto =
      g_str_has_prefix(rest, "magicard") ? &cs_protocol_magicard : &cs_protocol_evolis;
  const char *model = g_str_has_prefix(rest, "magicard-") ? rest + 9 : rest;
  emu_device_t *d = g_new0(emu_device_t, 1);
  d->emu = g_steal_pointer(&emu);
  d->proto = proto;
  d->state = proto->open(cs_transport_emulator_new(d->emu), model, s, caps, error);
  if (d->state == NULL) {
    cs_emulator_free(d->emu);
    g_free(d);
    return NULL;
  }
  return d;
}

static void emu_close(gpointer p) {
  emu_device_t *d = p;
  d->proto->close(d->state);
  cs_emulator_free(d->emu);
  g_free(d);
}

static cs_printer_state_t emu_status(gpointer p, GError **error) {
  emu_device_t *d = p;
  return d->proto->status(d->state, error);
}

static gboolean emu_print(gpointer p, const cs_card_job_t *job, GError **error) {
  emu_device_t *d = p;
  return d->proto->print(d->state, job, error);
}

const cs_device_class_t cs_device_emulator = {"emulator", emu_open, emu_close, emu_status,
                                              emu_print};

cs_emulator_t *cs_device_emulator_get(gpointer device) { return ((emu_device_t *)device)->emu; }
