/* file:///DIR: the simulated printer that the main job uses by default. For every card it
 * receives it writes, durably, what a card printer would print: per side a composite PNG
 * (colour with resin black over it), the separate colour, K and overlay planes, and one JSON
 * line in DIR/jobs.jsonl describing the job, so a user without a card printer sees exactly
 * what would be printed. A card is reported printed only once all of it is on disk. */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "driver-private.h"
#include "error.h"
#include "io.h"
#include "panels.h"

typedef struct {
  char *dir;
  guint64 count;
  cs_printer_settings_t settings;
} file_device_t;

static gpointer file_open(const char *uri, const char *rest, const cs_printer_settings_t *s,
                          cs_printer_caps_t *caps, GError **error) {
  /* file:///abs/dir: the part after "file://" is the absolute path */
  if (rest[0] != '/') {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: a file:// printer needs an absolute "
                "folder (file:///path)", uri);
    return NULL;
  }
  if (g_mkdir_with_parents(rest, 0755) != 0) {
    int e = errno;
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s: cannot create %s: %s", uri, rest,
                g_strerror(e));
    return NULL;
  }
  file_device_t *d = g_new0(file_device_t, 1);
  d->dir = g_strdup(rest);
  d->settings = *s;
  caps->model = "cardspool simulated printer";
  caps->duplex = TRUE;
  caps->ribbons = "YMCKO,YMCKOK,KO,K";
  cs_plane_geometry_init(&caps->geometry, 1016, 648, 300); /* as an Evolis-family printer */
  return d;
}

static void file_close(gpointer p) {
  file_device_t *d = p;
  g_free(d->dir);
  g_free(d);
}

static cs_printer_state_t file_status(gpointer p, GError **error) {
  file_device_t *d = p;
  if (access(d->dir, W_OK) != 0) {
    int e = errno;
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: %s", d->dir, g_strerror(e));
    return CS_PRINTER_OFFLINE;
  }
  return CS_PRINTER_READY;
}

static gboolean write_side(file_device_t *d, const char *stem, const char *side,
                           const cs_planes_t *p, const char *description, GError **error) {
  g_autofree char *prefix = g_strdup_printf("%s-%s", stem, side);
  g_autofree char *composite = g_strdup_printf("%s/%s.png", d->dir, prefix);
  return cs_planes_write_composite(p, composite, description, error) &&
         cs_planes_write(p, d->dir, prefix, description, error);
}

static gboolean file_print(gpointer p, const cs_card_job_t *job, GError **error) {
  file_device_t *d = p;
  d->count++;
  /* the job id names the files; one that is not a safe file name is not used as one */
  gboolean safe = job->job_id && *job->job_id && strspn(job->job_id,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
      strlen(job->job_id) && job->job_id[0] != '.';
  g_autofree char *stem = safe ? g_strdup(job->job_id)
                               : g_strdup_printf("card-%06" G_GUINT64_FORMAT, d->count);
  /* refuse what a real printer with these settings would refuse (colour on a K ribbon…) */
  for (guint side = 0; side < 2; side++) {
    const cs_planes_t *planes = side ? job->back : job->front;
    g_autoptr(cs_panels_t) panels =
        planes ? cs_panels_separate(planes, &d->settings, side, error) : NULL;
    if (planes && panels == NULL)
      return FALSE;
  }
  if (!write_side(d, stem, "front", job->front, job->description, error) ||
      (job->back && !write_side(d, stem, "back", job->back, job->description, error)))
    return FALSE;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "job");
  json_builder_add_string_value(b, job->job_id ? job->job_id : "");
  json_builder_set_member_name(b, "files");
  json_builder_add_string_value(b, stem);
  json_builder_set_member_name(b, "sides");
  json_builder_add_int_value(b, job->back ? 2 : 1);
  json_builder_set_member_name(b, "geometry");
  g_autofree char *geom = g_strdup_printf("%ux%u@%u", job->front->geometry.width,
                                          job->front->geometry.height, job->front->geometry.dpi);
  json_builder_add_string_value(b, geom);
  json_builder_set_member_name(b, "settings");
  g_autofree char *settings = cs_printer_settings_describe(&d->settings);
  json_builder_add_string_value(b, settings);
  json_builder_set_member_name(b, "made_by");
  json_builder_add_string_value(b, job->description ? job->description : "");
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *line = json_to_string(root, FALSE);
  g_autofree char *log = g_build_filename(d->dir, "jobs.jsonl", NULL);
  /* the log line last: a card is in the log only when all its files are */
  return cs_file_append_line(log, line, error);
}

const cs_device_class_t cs_device_file = {
    "file", file_open, file_close, file_status, file_print,
};
