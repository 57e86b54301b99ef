/* Driver lookup by URI scheme, the checks every print goes through, and rendering a card for
 * one printer (its geometry and calibration, or a PDF). */
#include "driver-private.h"

#include <glib/gstdio.h>
#include <string.h>

#include "cups.h"
#include "emulator.h"
#include "error.h"
#include "usb.h"

static const cs_device_class_t *const classes[] = {&cs_device_file, &cs_device_cups,
                                                   &cs_device_evolis, &cs_device_magicard,
                                                   &cs_device_emulator};

struct cs_driver {
  const cs_device_class_t *cls;
  gpointer device;
  char *uri;
  cs_printer_caps_t caps;
  cs_printer_settings_t settings;
};

const char *cs_printer_state_name(cs_printer_state_t s) {
  static const char *const names[] = {"ready",        "printing",   "ribbon-low", "ribbon-out",
                                      "feeder-empty", "cover-open", "jam",        "offline",
                                      "error"};
  return (guint)s < G_N_ELEMENTS(names) ? names[s] : "?";
}

cs_driver_t *cs_driver_open(const char *uri, GError **error) {
  return cs_driver_open_with(uri, NULL, error);
}

cs_driver_t *cs_driver_open_with(const char *uri, const cs_printer_settings_t *settings,
                                 GError **error) {
  const char *sep = uri ? strstr(uri, "://") : NULL;
  if (sep == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
                "“%s” is not a device URI (scheme://…)", uri ? uri : "");
    return NULL;
  }
  g_autofree char *scheme = g_ascii_strdown(uri, sep - uri);
  const cs_device_class_t *cls = NULL;
  for (guint i = 0; i < G_N_ELEMENTS(classes); i++)
    if (g_str_equal(classes[i]->scheme, scheme))
      cls = classes[i];
  if (cls == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
                "no driver for “%s” devices (%s): known are file, cups, evolis, magicard, "
                "emulator", scheme, uri);
    return NULL;
  }
  g_autofree char *rest = g_strdup(sep + 3);
  char *query = strchr(rest, '?');
  if (query)
    *query++ = '\0';
  cs_driver_t *d = g_new0(cs_driver_t, 1);
  if (settings)
    d->settings = *settings;
  else
    cs_printer_settings_init(&d->settings);
  /* a device's own keys are its business (the emulator's fault, fault-after, faults, journal
   * and operator, CUPS job options as option-NAME=VALUE); the rest are settings */
  g_autoptr(GString) own = g_string_new(NULL), common = g_string_new(NULL);
  if (query) {
    g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
    for (guint i = 0; pairs[i]; i++) {
      gboolean emu_key = (g_str_equal(cls->scheme, "emulator") &&
                          (g_str_has_prefix(pairs[i], "fault=") ||
                           g_str_has_prefix(pairs[i], "fault-after=") ||
                           g_str_has_prefix(pairs[i], "faults=") ||
                           g_str_has_prefix(pairs[i], "journal=") ||
                           g_str_has_prefix(pairs[i], "operator="))) ||
                         (g_str_equal(cls->scheme, "cups") &&
                          g_str_has_prefix(pairs[i], "option-"));
      GString *to = emu_key ? own : common;
      g_string_append_printf(to, "%s%s", to->len ? "&" : "", pairs[i]);
    }
  }
  if (!cs_printer_settings_parse_query(&d->settings, common->str, error)) {
    g_prefix_error(error, "%s: ", uri);
    g_free(d);
    return NULL;
  }
  g_autofree char *device_rest =
      own->len ? g_strdup_printf("%s?%s", rest, own->str) : g_strdup(rest);
  d->cls = cls;
  d->uri = g_strdup(uri);
  d->device = cls->open(uri, device_rest, &d->settings, &d->caps, error);
  if (d->device == NULL) {
    g_free(d->uri);
    g_free(d);
    return NULL;
  }
  return d;
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
const cs_printer_settings_t *cs_driver_settings(const cs_driver_t *d) { return &d->settings; }

cs_emulator_t *cs_driver_emulator(cs_driver_t *d) {
  return d->cls == &cs_device_emulator ? cs_device_emulator_get(d->device) : NULL;
}

cs_printer_state_t cs_driver_status(cs_driver_t *d, GError **error) {
  return d->cls->status(d->device, error);
}

void cs_driver_geometry(const cs_driver_t *d, cs_plane_geometry_t *g) {
  *g = d->caps.geometry;
  cs_printer_settings_apply(&d->settings, g);
}

gboolean cs_driver_print(cs_driver_t *d, const cs_card_job_t *job, GError **error) {
  if (d->caps.wants_pdf) {
    if (job->pdf == NULL || job->n_sides < 1 || job->n_sides > 2) {
      g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE, "%s takes the card as a PDF", d->uri);
      return FALSE;
    }
    if (job->n_sides == 2 && !(d->caps.duplex && d->settings.duplex)) {
      g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
                  "%s prints one side only, and the card has a back", d->uri);
      return FALSE;
    }
    return d->cls->print(d->device, job, error);
  }
  const cs_plane_geometry_t *g = &d->caps.geometry;
  const cs_planes_t *sides[] = {job->front, job->back};
  for (guint i = 0; i < 2; i++) {
    const cs_planes_t *p = sides[i];
    if (p == NULL)
      continue;
    if (p->geometry.width != g->width || p->geometry.height != g->height ||
        p->geometry.dpi != g->dpi) {
      g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
                  "%s takes %ux%u dots at %u dpi, not %ux%u at %u: render for its geometry",
                  d->uri, g->width, g->height, g->dpi, p->geometry.width, p->geometry.height,
                  p->geometry.dpi);
      return FALSE;
    }
  }
  if (job->front == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE, "%s: a card needs a front", d->uri);
    return FALSE;
  }
  if (job->back && !(d->caps.duplex && d->settings.duplex)) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
                "%s prints one side only (%s), and the card has a back", d->uri,
                d->caps.duplex ? "duplex=no in its settings" : "no flipper");
    return FALSE;
  }
  return d->cls->print(d->device, job, error);
}

static GBytes *card_pdf(const cs_card_t *card, guint *n_sides, GError **error) {
  g_autofree char *dir = g_dir_make_tmp("cardspool-pdf-XXXXXX", error);
  if (dir == NULL)
    return NULL;
  g_autofree char *path = g_build_filename(dir, "card.pdf", NULL);
  g_autofree char *desc = cs_card_describe(card);
  GBytes *bytes = NULL;
  cs_pdf_writer_t *w = cs_pdf_writer_new(path, desc, error);
  if (w != NULL) {
    /* one page a side the card was laid out for */
    const char *sides[3] = {NULL};
    guint n = 0;
    if (cs_card_has_side(card, "front"))
      sides[n++] = "front";
    if (cs_card_has_side(card, "back"))
      sides[n++] = "back";
    gboolean ok = cs_pdf_writer_add(w, card, sides, error);
    *n_sides = cs_pdf_writer_n_pages(w);
    if (cs_pdf_writer_close(w, ok ? error : NULL) && ok) {
      char *data = NULL;
      gsize len = 0;
      if (g_file_get_contents(path, &data, &len, error))
        bytes = g_bytes_new_take(data, len);
    }
  }
  g_unlink(path);
  g_rmdir(dir);
  return bytes;
}

gboolean cs_driver_print_card(cs_driver_t *d, const cs_card_t *card, const char *job_id,
                              GError **error) {
  g_autofree char *desc = cs_card_describe(card);
  cs_card_job_t job = {.job_id = job_id, .description = desc};
  if (d->caps.wants_pdf) {
    g_autoptr(GBytes) pdf = card_pdf(card, &job.n_sides, error);
    if (pdf == NULL)
      return FALSE;
    job.pdf = pdf;
    return cs_driver_print(d, &job, error);
  }
  cs_plane_geometry_t g;
  cs_driver_geometry(d, &g);
  g_autoptr(cs_planes_t) front = cs_card_render_planes(card, "front", &g, error);
  if (front == NULL)
    return FALSE;
  g_autoptr(cs_planes_t) back = NULL;
  if (cs_card_has_side(card, "back")) {
    back = cs_card_render_planes(card, "back", &g, error);
    if (back == NULL)
      return FALSE;
  }
  job.front = front;
  job.back = back;
  return cs_driver_print(d, &job, error);
}

void cs_printer_info_free(cs_printer_info_t *info) {
  if (info == NULL)
    return;
  g_free(info->uri);
  g_free(info->kind);
  g_free(info->description);
  g_free(info->state);
  g_free(info);
}

GPtrArray *cs_printers_list(GPtrArray *warnings) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)cs_printer_info_free);
  GError *error = NULL;
  g_autoptr(GPtrArray) usb = cs_usb_list(&error);
  if (usb == NULL) {
    if (warnings)
      g_ptr_array_add(warnings, g_strdup_printf("USB: %s", error->message));
    g_clear_error(&error);
  } else {
    for (guint i = 0; i < usb->len; i++) {
      const cs_usb_printer_t *u = usb->pdata[i];
      cs_printer_info_t *info = g_new0(cs_printer_info_t, 1);
      info->uri = g_strdup(u->uri);
      info->kind = g_strdup("usb");
      info->description = g_strdup_printf("%s %s (USB %03u/%03u, %04x:%04x)", u->make,
                                          u->model ? u->model : "", u->bus, u->address, u->vid,
                                          u->pid);
      info->state = g_strdup("connected");
      g_ptr_array_add(out, info);
    }
  }
  g_autoptr(GPtrArray) queues = cs_cups_list(&error);
  if (queues == NULL) {
    if (warnings)
      g_ptr_array_add(warnings, g_strdup_printf("CUPS: %s", error->message));
    g_clear_error(&error);
  } else {
    for (guint i = 0; i < queues->len; i++) {
      const cs_cups_queue_t *q = queues->pdata[i];
      cs_printer_info_t *info = g_new0(cs_printer_info_t, 1);
      info->uri = g_strdup(q->uri);
      info->kind = g_strdup("cups");
      info->description = g_strdup(q->info && *q->info ? q->info : q->name);
      info->state = g_strdup_printf("%s%s", q->state, q->accepting ? "" : ", not accepting");
      g_ptr_array_add(out, info);
    }
  }
  return out;
}
