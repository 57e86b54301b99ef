/* evolis://SERIAL and magicard://SERIAL: the protocol drivers over raw USB (usb.c). SERIAL may
 * be empty (evolis://) when exactly one such printer is attached. */
#include <string.h>

#include "driver-private.h"
#include "error.h"
#include "usb.h"

typedef struct {
  const cs_protocol_class_t *proto;
  gpointer state;
} usb_device_t;

static gpointer usb_open_as(const char *make, const cs_protocol_class_t *proto,
                            const char *uri, const char *rest,
                            const cs_printer_settings_t *s, cs_printer_caps_t *caps,
                            GError **error) {
  cs_transport_t *t = cs_usb_open(make, *rest ? rest : NULL, error);
  if (t == NULL) {
    g_prefix_error(error, "%s: ", uri);
    return NULL;
  }
  /* the model comes from the printer itself: its 1284 ID names it */
  g_autofree char *id = cs_transport_device_id(t, NULL);
  const char *model = id && (strstr(id, "Enduro") || strstr(id, "KGE")) ? "enduro" : "rio";
  usb_device_t *d = g_new0(usb_device_t, 1);
  d->proto = proto;
  d->state = proto->open(t, model, s, caps, error);
  if (d->state == NULL) {
    g_prefix_error(error, "%s: ", uri);
    g_free(d);
    return NULL;
  }
  return d;
}

static gpointer evolis_open(const char *uri, const char *rest, const cs_printer_settings_t *s,
                            cs_printer_caps_t *caps, GError **error) {
  return usb_open_as("evolis", &cs_protocol_evolis, uri, rest, s, caps, error);
}

static gpointer magicard_open(const char *uri, const char *rest,
                              const cs_printer_settings_t *s, cs_printer_caps_t *caps,
                              GError **error) {
  return usb_open_as("magicard", &cs_protocol_magicard, uri, rest, s, caps, error);
}

static void usb_close(gpointer p) {
  usb_device_t *d = p;
  d->proto->close(d->state);
  g_free(d);
}

static cs_printer_state_t usb_status(gpointer p, GError **error) {
  usb_device_t *d = p;
  return d->proto->status(d->state, error);
}

static gboolean usb_print(gpointer p, const cs_card_job_t *job, GError **error) {
  usb_device_t *d = p;
  return d->proto->print(d->state, job, error);
}

const cs_device_class_t cs_device_evolis = {"evolis", evolis_open, usb_close, usb_status,
                                            usb_print};
const cs_device_class_t cs_device_magicard = {"magicard", magicard_open, usb_close, usb_status,
                                              usb_print};
