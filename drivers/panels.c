/* Panel separation: planes -> the panels a ribbon prints on one side. Every card printed
 * passes through here twice, so the bitmaps are handled a whole byte (8 dots) at a time. */
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

/* Every byte of v[0…n) is `value`. Chunks of 64 OR'd together vectorise; the early exit
 * between chunks keeps an inked side cheap. */
static gboolean all_equal(const guint8 *v, gsize n, guint8 value) {
  gsize i = 0;
  for (; i + 64 <= n; i += 64) {
    guint8 diff = 0;
    for (guint j = 0; j < 64; j++)
      diff |= v[i + j] ^ value;
    if (diff)
      return FALSE;
  }
  for (; i < n; i++)
    if (v[i] != value)
      return FALSE;
  return TRUE;
}

static gboolean any_bit(const guint8 *bits, gsize n) { return !all_equal(bits, n, 0); }

static guint8 reverse_bits(guint8 b) {
  b = (guint8)((b & 0xf0) >> 4 | (b & 0x0f) << 4);
  b = (guint8)((b & 0xcc) >> 2 | (b & 0x33) << 2);
  return (guint8)((b & 0xaa) >> 1 | (b & 0x55) << 1);
}

/* 180°: dot (x, y) -> (w-1-x, h-1-y). Row y reversed dot by dot is its bytes in reverse
 * order, each bit-reversed; the `pad` padding bits of its last byte then come first, so the
 * row is shifted left by pad (dropping them, as only dots x < w are turned). */
static void turn_bits(guint8 *bits, gsize stride, guint w, guint h) {
  g_autofree guint8 *copy = g_memdup2(bits, stride * h);
  guint pad = (guint)(stride * 8 - w);
  for (guint y = 0; y < h; y++) {
    const guint8 *src = copy + (gsize)y * stride;
    guint8 *dst = bits + (gsize)(h - 1 - y) * stride;
    for (gsize i = 0; i < stride; i++) {
      guint hi = reverse_bits(src[stride - 1 - i]);
      guint lo = i + 1 < stride ? reverse_bits(src[stride - 2 - i]) : 0;
      dst[i] = (guint8)(((hi << 8 | lo) << pad) >> 8);
    }
  }
}

static void turn_bytes(guint8 *v, gsize n) {
  for (gsize i = 0, j = n - 1; i < j; i++, j--) {
    guint8 t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

/* Clears bits x0 … x1-1 of a row (x0 < x1): masks for the partial end bytes, whole bytes
 * between. */
static void clear_run(guint8 *row, guint x0, guint x1) {
  guint b0 = x0 / 8, b1 = (x1 - 1) / 8;
  guint8 first = (guint8)(0xff >> (x0 % 8));          /* x0 to the end of its byte */
  guint8 last = (guint8)(0xff << (7 - (x1 - 1) % 8)); /* the start of its byte to x1-1 */
  if (b0 == b1) {
    row[b0] &= (guint8) ~(first & last);
    return;
  }
  row[b0] &= (guint8)~first;
  memset(row + b0 + 1, 0, b1 - b0 - 1);
  row[b1] &= (guint8)~last;
}

cs_panels_t *cs_panels_separate(const cs_planes_t *planes, const cs_printer_settings_t *s,
                                guint side, GError **error) {
  const cs_plane_geometry_t *g = &planes->geometry;
  guint w = g->width, h = g->height, prints = cs_ribbon_prints(s->ribbon, side);
  gsize n = (gsize)w * h;
  const char *side_name = side == 0 ? "front" : "back";
  gboolean turn = side == 1 && s->back_rotation == 180;
  g_autoptr(cs_panels_t) p = g_new0(cs_panels_t, 1);
  p->width = w;
  p->height = h;
  p->stride = (w + 7) / 8;
  g_return_val_if_fail(planes->k_stride == p->stride && planes->overlay_stride == p->stride,
                       NULL);

  gboolean colour_ink = FALSE;
  for (guint y = 0; y < h && !colour_ink; y++)
    colour_ink = !all_equal(planes->colour + (gsize)y * planes->colour_stride, 3 * (gsize)w,
                            0xff);
  if (colour_ink && !(prints & CS_PRINTS_COLOUR)) {
    /* dropping it would print a different card than the one rendered */
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
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
      /* turned 180°, row y is row h-1-y reversed: split it there, reverse it while cached */
      gsize at = (gsize)(turn ? h - 1 - y : y) * w;
      guint8 *c = p->c + at, *m = p->m + at, *yl = p->y + at;
      for (guint x = 0; x < w; x++) {
        c[x] = 255 - row[3 * x];
        m[x] = 255 - row[3 * x + 1];
        yl[x] = 255 - row[3 * x + 2];
      }
      if (turn) {
        turn_bytes(c, w);
        turn_bytes(m, w);
        turn_bytes(yl, w);
      }
    }
    p->colour_ink = colour_ink;
  }
  if (prints & CS_PRINTS_K) {
    p->k = g_memdup2(planes->k, p->stride * h);
    p->k_ink = any_bit(p->k, p->stride * h); /* before turning: padding bits count too */
  } else if (any_bit(planes->k, p->stride * h)) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
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
    guint8 tail = (guint8)(0xff << (8 - w % 8)); /* the dots of a short last byte */
    if (w % 8)
      for (guint y = 0; y < h; y++)
        p->o[(gsize)y * p->stride + p->stride - 1] &= tail;
    p->o_full = TRUE;
    for (guint y = 0; y < h && p->o_full; y++) {
      const guint8 *row = p->o + (gsize)y * p->stride;
      p->o_full = all_equal(row, w / 8, 0xff) && (w % 8 == 0 || row[w / 8] == tail);
    }
    for (guint hole = CS_HOLE_CHIP; hole <= CS_HOLE_STRIPE; hole <<= 1) {
      guint x0, y0, x1, y1;
      if (!(s->holes & hole) || !cs_hole_rect(hole, side, g, &x0, &y0, &x1, &y1))
        continue;
      p->holes |= hole;
      for (guint y = y0; y < y1; y++)
        clear_run(p->o + (gsize)y * p->stride, x0, x1);
    }
    p->o_ink = any_bit(p->o, p->stride * h);
  }
  if (turn) {
    if (p->k)
      turn_bits(p->k, p->stride, w, h);
    if (p->o)
      turn_bits(p->o, p->stride, w, h);
  }
  return g_steal_pointer(&p);
}
