#include "driver-private.h"

#include <string.h>

#include "error.h"

static const cs_device_class_t *const classes[] = {&cs_device_file};

struct cs_driver {
  const cs_device_class_t *cls;
  gpointer device;
  char *uri;
  cs_printer_caps_t caps;
};

const char *cs_printer_state_name(cs_printer_state_t s) {
  static const char *const names[] = {"ready",         "printing",    "ribbon-low", "ribbon-out",
                                      "feeder-empty",  "cover-open",  "jam",        "offline"};
  return (guint)s < G_N_ELEMENTS(names) ? names[s] : "?";
}

cs_driver_t *cs_driver_open(const char *uri, GError **error) {
  const char *sep = uri ? strstr(uri, "://") : NULL;
  if (sep == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
                "“%s” is not a device URI (scheme://…)", uri ? uri : "");
    return NULL;
  }
  g_autofree char *scheme = g_ascii_strdown(uri, sep - uri);
  for (guint i = 0; i < G_N_ELEMENTS(classes); i++) {
    if (!g_str_equal(classes[i]->scheme, scheme))
      continue;
    cs_driver_t *d = g_new0(cs_driver_t, 1);
    d->cls = classes[i];
    d->uri = g_strdup(uri);
    d->device = d->cls->open(uri, sep + 3, &d->caps, error);
    if (d->device == NULL) {
      g_free(d->uri);
      g_free(d);
      return NULL;
    }
    return d;
  }
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "no driver for “%s” devices (%s)", scheme,
              uri);
  return NULL;
}

void cs_driver_close(cs_driver_t *d) {
  if (d == NULL)
    return;
  d->cls->close(d->device);
  g_free(d->uri);
  g_free(d);
}

const char *cs_driver_uri(const cs_driver_t *d) { return d->uri; }
const cs_printer_caps_t *cs_driver_caps(const cs_driver_t *d) { return &d->caps; }

cs_printer_state_t cs_driver_status(cs_driver_t *d, GError **error) {
  return d->cls->status(d->device, error);
}

gboolean cs_driver_print(cs_driver_t *d, const cs_card_job_t *job, GError **error) {
  const cs_plane_geometry_t *g = &d->caps.geometry;
  const cs_planes_t *sides[] = {job->front, job->back};
  for (guint i = 0; i < 2; i++) {
    const cs_planes_t *p = sides[i];
    if (p == NULL)
      continue;
    if (p->geometry.width != g->width || p->geometry.height != g->height ||
        p->geometry.dpi != g->dpi) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                  "%s takes %ux%u dots at %u dpi, not %ux%u at %u: render for its geometry",
                  d->uri, g->width, g->height, g->dpi, p->geometry.width, p->geometry.height,
                  p->geometry.dpi);
      return FALSE;
    }
  }
  if (job->front == NULL || (job->back && !d->caps.duplex)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, job->front ? "%s prints one side only"
                                                              : "%s: a card needs a front",
                d->uri);
    return FALSE;
  }
  return d->cls->print(d->device, job, error);
}
