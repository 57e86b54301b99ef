/* Per-printer settings: one parser for URI queries and the daemon's config. */
#include "settings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void cs_printer_settings_init(cs_printer_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->ribbon = CS_RIBBON_YMCKO;
  s->duplex = TRUE;
  s->k_policy = CS_K_LAYOUT;
  s->overlay = CS_OVERLAY_LAYOUT;
  s->scale = 1.0;
  s->colour_bits = 7;
  s->compress = TRUE;
  s->timeout_ms = 15000;
}

static const char *const ribbon_names[] = {"ymcko", "ymckok", "ko", "k"};
static const char *const k_names[] = {"layout", "qr", "none"};
static const char *const overlay_names[] = {"layout", "full", "none"};

const char *cs_ribbon_name(cs_ribbon_t r) {
  static const char *const upper[] = {"YMCKO", "YMCKOK", "KO", "K"};
  return (guint)r < G_N_ELEMENTS(upper) ? upper[r] : "?";
}

static gboolean pick(const char *key, const char *value, const char *const *names, guint n,
                     guint *out, GError **error) {
  for (guint i = 0; i < n; i++)
    if (g_ascii_strcasecmp(value, names[i]) == 0) {
      *out = i;
      return TRUE;
    }
  g_autoptr(GString) allowed = g_string_new(NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf(allowed, "%s%s", i ? ", " : "", names[i]);
  g_set_error(error, CS_ERROR, CS_ERROR_INVALID, "printer setting %s: “%s” is not one of %s",
              key, value, allowed->str);
  return FALSE;
}

static gboolean boolean(const char *key, const char *value, gboolean *out, GError **error) {
  static const char *const names[] = {"no", "yes", "false", "true", "off", "on", "0", "1"};
  guint i;
  if (!pick(key, value, names, G_N_ELEMENTS(names), &i, error))
    return FALSE;
  *out = i % 2;
  return TRUE;
}

static gboolean integer(const char *key, const char *value, gint64 lo, gint64 hi, gint64 *out,
                        GError **error) {
  gint64 v;
  if (!g_ascii_string_to_signed(value, 10, lo, hi, &v, NULL)) {
    g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                "printer setting %s: “%s” is not a whole number from %" G_GINT64_FORMAT
                " to %" G_GINT64_FORMAT, key, value, lo, hi);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

gboolean cs_printer_settings_set(cs_printer_settings_t *s, const char *key, const char *value,
                                 GError **error) {
  guint u;
  gint64 v;
  if (g_str_equal(key, "ribbon")) {
    if (!pick(key, value, ribbon_names, G_N_ELEMENTS(ribbon_names), &u, error))
      return FALSE;
    s->ribbon = u;
  } else if (g_str_equal(key, "duplex")) {
    return boolean(key, value, &s->duplex, error);
  } else if (g_str_equal(key, "back-rotation")) {
    if (!g_str_equal(value, "0") && !g_str_equal(value, "180")) {
      g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                  "printer setting %s: “%s” is not 0 or 180", key, value);
      return FALSE;
    }
    s->back_rotation = (guint)atoi(value);
  } else if (g_str_equal(key, "k")) {
    if (!pick(key, value, k_names, G_N_ELEMENTS(k_names), &u, error))
      return FALSE;
    s->k_policy = u;
  } else if (g_str_equal(key, "overlay")) {
    if (!pick(key, value, overlay_names, G_N_ELEMENTS(overlay_names), &u, error))
      return FALSE;
    s->overlay = u;
  } else if (g_str_equal(key, "holes")) {
    guint holes = 0;
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);
    for (guint i = 0; parts[i]; i++) {
      const char *p = g_strstrip(parts[i]);
      if (g_ascii_strcasecmp(p, "chip") == 0)
        holes |= CS_HOLE_CHIP;
      else if (g_ascii_strcasecmp(p, "stripe") == 0)
        holes |= CS_HOLE_STRIPE;
      else if (g_ascii_strcasecmp(p, "none") != 0 || parts[1] != NULL) {
        g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                    "printer setting %s: “%s” is not chip, stripe or none", key, p);
        return FALSE;
      }
    }
    s->holes = holes;
  } else if (g_str_equal(key, "offset-x") || g_str_equal(key, "offset-y")) {
    if (!integer(key, value, -50, 50, &v, error))
      return FALSE;
    *(key[7] == 'x' ? &s->offset_x : &s->offset_y) = (int)v;
  } else if (g_str_equal(key, "scale")) {
    char *end = NULL;
    double d = g_ascii_strtod(value, &end);
    if (end == value || *end != '\0' || !(d >= 0.95 && d <= 1.05)) {
      g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                  "printer setting %s: “%s” is not a factor from 0.95 to 1.05", key, value);
      return FALSE;
    }
    s->scale = d;
  } else if (g_str_equal(key, "colour-bits") || g_str_equal(key, "color-bits")) {
    if (!integer(key, value, 5, 7, &v, error))
      return FALSE;
    s->colour_bits = (guint)v;
  } else if (g_str_equal(key, "compress")) {
    return boolean(key, value, &s->compress, error);
  } else if (g_str_equal(key, "timeout")) {
    if (!integer(key, value, 100, 600000, &v, error))
      return FALSE;
    s->timeout_ms = (guint)v;
  } else {
    g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                "unknown printer setting “%s” (known: ribbon, duplex, back-rotation, k, overlay, "
                "holes, offset-x, offset-y, scale, colour-bits, compress, timeout)", key);
    return FALSE;
  }
  return TRUE;
}

gboolean cs_printer_settings_parse_query(cs_printer_settings_t *s, const char *query,
                                         GError **error) {
  if (query == NULL || *query == '\0')
    return TRUE;
  g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
  for (guint i = 0; pairs[i]; i++) {
    if (*pairs[i] == '\0')
      continue;
    char *eq = strchr(pairs[i], '=');
    if (eq == NULL) {
      g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                  "printer setting “%s” has no value (key=value)", pairs[i]);
      return FALSE;
    }
    *eq = '\0';
    g_autofree char *key = g_uri_unescape_string(pairs[i], NULL);
    g_autofree char *value = g_uri_unescape_string(eq + 1, NULL);
    if (key == NULL || value == NULL) {
      g_set_error(error, CS_ERROR, CS_ERROR_INVALID, "printer setting “%s”: bad %%-escape",
                  pairs[i]);
      return FALSE;
    }
    if (!cs_printer_settings_set(s, key, value, error))
      return FALSE;
  }
  return TRUE;
}

char *cs_printer_settings_describe(const cs_printer_settings_t *s) {
  const char *holes = s->holes == (CS_HOLE_CHIP | CS_HOLE_STRIPE) ? "chip,stripe"
                      : s->holes == CS_HOLE_CHIP                  ? "chip"
                      : s->holes == CS_HOLE_STRIPE                ? "stripe"
                                                                  : "none";
  char scale[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(scale, sizeof scale, "%.4f", s->scale);
  return g_strdup_printf("ribbon=%s duplex=%s back-rotation=%u k=%s overlay=%s holes=%s "
                         "offset-x=%d offset-y=%d scale=%s colour-bits=%u compress=%s "
                         "timeout=%u",
                         ribbon_names[s->ribbon], s->duplex ? "yes" : "no", s->back_rotation,
                         k_names[s->k_policy], overlay_names[s->overlay], holes, s->offset_x,
                         s->offset_y, scale, s->colour_bits, s->compress ? "yes" : "no",
                         s->timeout_ms);
}

guint cs_ribbon_prints(cs_ribbon_t r, guint side) {
  switch (r) {
  case CS_RIBBON_YMCKO:
    return CS_PRINTS_COLOUR | CS_PRINTS_K | CS_PRINTS_OVERLAY;
  case CS_RIBBON_YMCKOK:
    return side == 0 ? CS_PRINTS_COLOUR | CS_PRINTS_K | CS_PRINTS_OVERLAY : CS_PRINTS_K;
  case CS_RIBBON_KO:
    return CS_PRINTS_K | CS_PRINTS_OVERLAY;
  case CS_RIBBON_K:
    return CS_PRINTS_K;
  }
  return 0;
}

void cs_printer_settings_apply(const cs_printer_settings_t *s, cs_plane_geometry_t *g) {
  g->card_x_mm += s->offset_x / 10.0;
  g->card_y_mm += s->offset_y / 10.0;
  g->scale = s->scale;
  g->k_policy = s->k_policy;
}

/* Millimetres from the card's top-left corner. Chip: the contact module of ISO/IEC 7816-2
 * (contacts at 10.25-19.87 x 19.23-28.55 mm) with margin, where Magicard's default chip hole
 * lies. Stripe: ISO/IEC 7811-6, up to 15.82 mm from the top edge, with margin, full width. */
static const struct {
  cs_hole_t hole;
  guint side;
  double x0, y0, x1, y1;
} holes[] = {
    {CS_HOLE_CHIP, 0, 7.5, 16.0, 22.0, 29.5},
    {CS_HOLE_STRIPE, 1, -2.0, 4.3, CS_CARD_WIDTH_MM + 2.0, 18.7},
};

gboolean cs_hole_rect(cs_hole_t hole, guint side, const cs_plane_geometry_t *g, guint *x0,
                      guint *y0, guint *x1, guint *y1) {
  for (guint i = 0; i < G_N_ELEMENTS(holes); i++) {
    if (holes[i].hole != hole)
      continue;
    if (holes[i].side != side)
      return FALSE;
    double s = g->scale == 0 ? 1.0 : g->scale, d = g->dpi / 25.4;
    double cx = CS_CARD_WIDTH_MM / 2, cy = CS_CARD_HEIGHT_MM / 2;
    double ax = (g->card_x_mm + cx + (holes[i].x0 - cx) * s) * d;
    double bx = (g->card_x_mm + cx + (holes[i].x1 - cx) * s) * d;
    double ay = (g->card_y_mm + cy + (holes[i].y0 - cy) * s) * d;
    double by = (g->card_y_mm + cy + (holes[i].y1 - cy) * s) * d;
    *x0 = (guint)CLAMP(floor(ax), 0, g->width);
    *x1 = (guint)CLAMP(ceil(bx), 0, g->width);
    *y0 = (guint)CLAMP(floor(ay), 0, g->height);
    *y1 = (guint)CLAMP(ceil(by), 0, g->height);
    return *x1 > *x0 && *y1 > *y0;
  }
  return FALSE;
}
