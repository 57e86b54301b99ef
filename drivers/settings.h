/* Per-printer settings: ribbon, duplex, K policy, overlay and calibration. They come from a
 * printer URI's query (evolis://SERIAL?ribbon=ymcko&overlay=full&offset-x=3) or from the
 * daemon's printer config; both go through cs_printer_settings_set(), so a bad value gets the
 * same error naming the key either way. Calibration is applied when the card is rendered for
 * that printer, so no layout is ever edited to fix one printer's alignment. */
#pragma once

#include <glib.h>

#include "render.h"

G_BEGIN_DECLS

typedef enum {
  CS_RIBBON_YMCKO,  /* colour, resin black and overlay on each side */
  CS_RIBBON_YMCKOK, /* YMCKO on the front, a second K panel for the back */
  CS_RIBBON_KO,     /* resin black and overlay only */
  CS_RIBBON_K,      /* resin black only */
} cs_ribbon_t;

typedef enum {
  CS_OVERLAY_LAYOUT, /* as the layout's overlay mask says (all of the card when it has none) */
  CS_OVERLAY_FULL,   /* every dot */
  CS_OVERLAY_NONE,
} cs_overlay_t;

/* Areas left without overlay: a chip needs bare contacts, a magnetic stripe bare oxide. */
typedef enum {
  CS_HOLE_CHIP = 1 << 0,   /* front: the ISO/IEC 7816-2 contact module */
  CS_HOLE_STRIPE = 1 << 1, /* back: the ISO/IEC 7811 magnetic stripe */
} cs_hole_t;

typedef struct {
  cs_ribbon_t ribbon;
  gboolean duplex;        /* the printer has a flipper and may print backs */
  guint back_rotation;    /* 0 or 180: how the back image is turned for the flipper */
  cs_k_policy_t k_policy; /* which resin elements go on the K panel */
  cs_overlay_t overlay;
  guint holes;            /* cs_hole_t bits */
  int offset_x, offset_y; /* calibration in 0.1 mm: + moves the print right, down */
  double scale;           /* calibration: 1 = none */
  guint colour_bits;      /* Evolis: bits per colour dot, 5, 6 or 7 (default 7) */
  gboolean compress;      /* Evolis: compressed (Dbc) K and overlay downloads (default on) */
  guint timeout_ms;       /* how long to wait for the printer to answer (default 15000) */
} cs_printer_settings_t;

/* Defaults: YMCKO, duplex on, back 0°, K as the layout says, overlay as the layout says, no
 * holes, no calibration, 7-bit colour, compressed K/O, 15 s. */
void cs_printer_settings_init(cs_printer_settings_t *settings);

/* Keys: ribbon (ymcko, ymckok, ko, k), duplex (yes, no), back-rotation (0, 180),
 * k (layout, qr, none), overlay (layout, full, none), holes (comma list of chip, stripe, or
 * none), offset-x and offset-y (0.1 mm, -50…50), scale (0.95…1.05), colour-bits (5, 6, 7),
 * compress (yes, no), timeout (ms, 100…600000). Unknown key or bad value: CS_ERROR_INVALID
 * naming the key, the value and what is allowed. */
gboolean cs_printer_settings_set(cs_printer_settings_t *settings, const char *key,
                                 const char *value, GError **error);
/* "key=value&key=value", percent-decoded. */
gboolean cs_printer_settings_parse_query(cs_printer_settings_t *settings, const char *query,
                                         GError **error);
/* "ribbon=ymcko duplex=yes …": every setting, for logs and the simulated printer's journal. */
char *cs_printer_settings_describe(const cs_printer_settings_t *settings);

const char *cs_ribbon_name(cs_ribbon_t ribbon); /* "YMCKO", … */

/* The panels a ribbon prints on side 0 (front) or 1 (back). */
typedef enum {
  CS_PRINTS_COLOUR = 1 << 0,
  CS_PRINTS_K = 1 << 1,
  CS_PRINTS_OVERLAY = 1 << 2,
} cs_prints_t;
guint cs_ribbon_prints(cs_ribbon_t ribbon, guint side);

/* Applies offset, scale and K policy to a printer's plane geometry. */
void cs_printer_settings_apply(const cs_printer_settings_t *settings,
                               cs_plane_geometry_t *geometry);

/* A hole's rectangle in dots of the plane geometry: x0 <= x < x1, y0 <= y < y1 (y down),
 * calibration included. FALSE if the hole lies on the other side (chip: front, stripe: back). */
gboolean cs_hole_rect(cs_hole_t hole, guint side, const cs_plane_geometry_t *geometry,
                      guint *x0, guint *y0, guint *x1, guint *y1);

G_END_DECLS
