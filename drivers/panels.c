/* Panel separation: planes -> the panels a ribbon prints on one side. */
#include "panels.h"

#include <string.h>

#include "error.h"

void cs_panels_free(cs_panels_t *p) {
  if (p == NULL)
    return;
  g_free(p->y);
  g_free(p->m);
  g_free(p->c);
  g_free(p->k);
  g_free(p->o);
  g_free(p);
}

static gboolean any_bit(const guint8 *bits, gsize n) {
  for (gsize i = 0; i < n; i++)
    if (bits[i])
      return TRUE;
  return FALSE;
}

/* 180°: dot (x, y) -> (w-1-x, h-1-y) */
static void turn_bits(guint8 *bits, gsize stride, guint w, guint h) {
  g_autofree guint8 *copy = g_memdup2(bits, stride * h);
  memset(bits, 0, stride * h);
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      if (cs_panels_bit(copy, stride, x, y)) {
        guint tx = w - 1 - x, ty = h - 1 - y;
        bits[(gsize)ty * stride + tx / 8] |= (guint8)(0x80 >> (tx % 8));
      }
}

static void turn_bytes(guint8 *v, gsize n) {
  for (gsize i = 0, j = n - 1; i < j; i++, j--) {
    guint8 t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

cs_panels_t *cs_panels_separate(const cs_planes_t *planes, const cs_printer_settings_t *s,
                                guint side, GError **error) {
  const cs_plane_geometry_t *g = &planes->geometry;
  guint w = g->width, h = g->height, prints = cs_ribbon_prints(s->ribbon, side);
  gsize n = (gsize)w * h;
  const char *side_name = side == 0 ? "front" : "back";
  g_autoptr(cs_panels_t) p = g_new0(cs_panels_t, 1);
  p->width = w;
  p->height = h;
  p->stride = (w + 7) / 8;
  g_return_val_if_fail(planes->k_stride == p->stride && planes->overlay_stride == p->stride,
                       NULL);

  gboolean colour_ink = FALSE;
  for (guint y = 0; y < h && !colour_ink; y++) {
    const guint8 *row = planes->colour + (gsize)y * planes->colour_stride;
    for (guint i = 0; i < 3 * w; i++)
      if (row[i] != 0xff) {
        colour_ink = TRUE;
        break;
      }
  }
  if (colour_ink && !(prints & CS_PRINTS_COLOUR)) {
    /* dropping it would print a different card than the one rendered */
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "the card's %s has colour ink but a %s ribbon prints no colour on the %s: use "
                "a YMCKO ribbon, or a layout whose %s is resin black only",
                side_name, cs_ribbon_name(s->ribbon), side_name, side_name);
    return NULL;
  }
  if (prints & CS_PRINTS_COLOUR) {
    p->y = g_malloc(n);
    p->m = g_malloc(n);
    p->c = g_malloc(n);
    for (guint y = 0; y < h; y++) {
      const guint8 *row = planes->colour + (gsize)y * planes->colour_stride;
      for (guint x = 0; x < w; x++) {
        gsize i = (gsize)y * w + x;
        p->c[i] = 255 - row[3 * x];
        p->m[i] = 255 - row[3 * x + 1];
        p->y[i] = 255 - row[3 * x + 2];
      }
    }
    p->colour_ink = colour_ink;
  }
  if (prints & CS_PRINTS_K) {
    p->k = g_memdup2(planes->k, p->stride * h);
    p->k_ink = any_bit(p->k, p->stride * h);
  } else if (any_bit(planes->k, p->stride * h)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "the card's %s has resin black but the %s ribbon has no K panel for it",
                side_name, cs_ribbon_name(s->ribbon));
    return NULL;
  }
  if ((prints & CS_PRINTS_OVERLAY) && s->overlay != CS_OVERLAY_NONE) {
    p->o = g_malloc(p->stride * h);
    if (s->overlay == CS_OVERLAY_FULL)
      memset(p->o, 0xff, p->stride * h);
    else
      memcpy(p->o, planes->overlay, p->stride * h);
    /* the last byte's padding bits stay clear so "every dot" compares equal */
    if (w % 8)
      for (guint y = 0; y < h; y++)
        p->o[(gsize)y * p->stride + p->stride - 1] &= (guint8)(0xff << (8 - w % 8));
    p->o_full = TRUE;
    for (guint y = 0; y < h && p->o_full; y++)
      for (guint x = 0; x < w; x++)
        if (!cs_panels_bit(p->o, p->stride, x, y)) {
          p->o_full = FALSE;
          break;
        }
    for (guint hole = CS_HOLE_CHIP; hole <= CS_HOLE_STRIPE; hole <<= 1) {
      guint x0, y0, x1, y1;
      if (!(s->holes & hole) || !cs_hole_rect(hole, side, g, &x0, &y0, &x1, &y1))
        continue;
      p->holes |= hole;
      for (guint y = y0; y < y1; y++)
        for (guint x = x0; x < x1; x++)
          p->o[(gsize)y * p->stride + x / 8] &= (guint8) ~(0x80 >> (x % 8));
    }
    p->o_ink = any_bit(p->o, p->stride * h);
  }
  if (side == 1 && s->back_rotation == 180) {
    if (p->y) {
      turn_bytes(p->y, n);
      turn_bytes(p->m, n);
      turn_bytes(p->c, n);
    }
    if (p->k)
      turn_bits(p->k, p->stride, w, h);
    if (p->o)
      turn_bits(p->o, p->stride, w, h);
  }
  return g_steal_pointer(&p);
}
