/* The transport wrappers, and the transport into an in-process emulator. */
#include "transport.h"

#include "emulator.h"
#include "error.h"

gboolean cs_transport_write(cs_transport_t *t, const guint8 *data, gsize len, gsize *sent,
                            GError **error) {
  gsize dummy = 0;
  return t->cls->write(t, data, len, sent ? sent : &dummy, error);
}

gssize cs_transport_read(cs_transport_t *t, guint8 *buf, gsize len, guint timeout_ms,
                         GError **error) {
  return t->cls->read(t, buf, len, timeout_ms, error);
}

gboolean cs_transport_port_status(cs_transport_t *t, guint8 *status, GError **error) {
  return t->cls->port_status(t, status, error);
}

char *cs_transport_device_id(cs_transport_t *t, GError **error) {
  return t->cls->device_id(t, error);
}

void cs_transport_free(cs_transport_t *t) {
  if (t != NULL)
    t->cls->free(t);
}

/* ---- emulator ---- */

typedef struct {
  cs_transport_t base;
  cs_emulator_t *emu;
} emu_transport_t;

static gboolean emu_write(cs_transport_t *t, const guint8 *data, gsize len, gsize *sent,
                          GError **error) {
  emu_transport_t *e = (emu_transport_t *)t;
  *sent = 0;
  /* in 16 KiB pieces, as the USB driver sends: a fault can strike between them */
  for (gsize off = 0; off < len;) {
    gsize n = MIN(len - off, 16384);
    if (!cs_emulator_write(e->emu, data + off, n, error)) {
      g_prefix_error(error, "%s: ", t->name);
      return FALSE;
    }
    off += n;
    *sent = off;
  }
  return TRUE;
}

static gssize emu_read(cs_transport_t *t, guint8 *buf, gsize len, guint timeout_ms,
                       GError **error) {
  (void)timeout_ms; /* the emulator answers at once or not at all */
  emu_transport_t *e = (emu_transport_t *)t;
  gssize n = cs_emulator_read(e->emu, buf, len);
  if (n < 0)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
  return n;
}

static gboolean emu_port_status(cs_transport_t *t, guint8 *status, GError **error) {
  emu_transport_t *e = (emu_transport_t *)t;
  if (cs_emulator_fault(e->emu) == CS_FAULT_UNPLUG) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return FALSE;
  }
  *status = cs_emulator_port_status(e->emu);
  return TRUE;
}

static char *emu_device_id(cs_transport_t *t, GError **error) {
  emu_transport_t *e = (emu_transport_t *)t;
  if (cs_emulator_fault(e->emu) == CS_FAULT_UNPLUG) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return NULL;
  }
  return g_strdup(cs_emulator_device_id(e->emu));
}

static void emu_free(cs_transport_t *t) {
  g_free(t->name);
  g_free(t);
}

static const cs_transport_class_t emu_class = {emu_write, emu_read, emu_port_status,
                                               emu_device_id, emu_free};

cs_transport_t *cs_transport_emulator_new(cs_emulator_t *emulator) {
  emu_transport_t *e = g_new0(emu_transport_t, 1);
  e->base.cls = &emu_class;
  e->base.name = g_strdup_printf("emulator %s", cs_emulator_model(emulator));
  e->emu = emulator;
  return &e->base;
}
