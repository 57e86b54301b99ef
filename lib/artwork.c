#include "artwork.h"

#include <math.h>

/* xorshift32: phases from the element's seed, the same on every machine */
static double next_unit(guint32 *state) {
  guint32 x = *state ? *state : 0x9E3779B9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return (x & 0xFFFFFF) / (double)0x1000000;
}

/* Curves are cubic Beziers built from the curve's analytic derivative (Hermite segments):
 * a few points per period instead of a dense polyline, so a PDF stays small and a raster
 * stays smooth at any resolution.
 *
 * Each line is drawn as the filled ribbon between its two offset curves at half the line's
 * width, not as a stroke. The ink is the same as long as no line bends tighter than half its
 * width (the layout loader checks: cs_artwork_guilloche_min_radius(); the shipped layouts keep
 * 4.7 times that), but cairo's PDF backend measures every stroke by running its stroker again
 * on each page that shows the design, while a fill is measured by its path's bounds: the
 * stroked guilloche cost 5.5 ms of a batch card's 9. */
typedef void (*curve_fn)(const cs_element_t *e, const double *p, double t, double *x, double *y,
                         double *dx, double *dy, double *ddx, double *ddy);

/* The curve offset by `off` along its normal ((dx, dy) turned a quarter turn), and its
 * derivative: the normal turns with the curve, so the offset's tangent is longer on the
 * outside of a bend and shorter inside. */
static void offset_at(const cs_element_t *e, const double *p, curve_fn f, double off, double t,
                      double *x, double *y, double *dx, double *dy) {
  double ddx, ddy;
  f(e, p, t, x, y, dx, dy, &ddx, &ddy);
  double s = hypot(*dx, *dy), nx = -*dy / s, ny = *dx / s;
  double ds = (*dx * ddx + *dy * ddy) / s; /* d|D|/dt */
  double dnx = (-ddy - nx * ds) / s, dny = (ddx - ny * ds) / s;
  *x += off * nx;
  *y += off * ny;
  *dx += off * dnx;
  *dy += off * dny;
}

/* One side of the ribbon from t0 to t1 (t1 < t0 runs backwards); `join` continues the path
 * with a line instead of starting a new sub-path. */
static void hermite(cairo_t *cr, const cs_element_t *e, const double *p, curve_fn f, double off,
                    double t0, double t1, int segments, gboolean join) {
  double h = (t1 - t0) / segments, x, y, dx, dy;
  offset_at(e, p, f, off, t0, &x, &y, &dx, &dy);
  if (join)
    cairo_line_to(cr, x, y);
  else
    cairo_move_to(cr, x, y);
  for (int k = 1; k <= segments; k++) {
    double x1, y1, dx1, dy1;
    offset_at(e, p, f, off, t0 + k * h, &x1, &y1, &dx1, &dy1);
    cairo_curve_to(cr, x + dx * h / 3, y + dy * h / 3, x1 - dx1 * h / 3, y1 - dy1 * h / 3, x1, y1);
    x = x1, y = y1, dx = dx1, dy = dy1;
  }
}

/* An open line: out along one side, back along the other, butt ends. Every ribbon winds the
 * same way whatever its direction, so where lines cross the non-zero rule fills both. */
static void open_ribbon(cairo_t *cr, const cs_element_t *e, const double *p, curve_fn f,
                        double t0, double t1, int segments) {
  double half = e->stroke_width / 2;
  hermite(cr, e, p, f, half, t0, t1, segments, FALSE);
  hermite(cr, e, p, f, -half, t1, t0, segments, TRUE);
  cairo_close_path(cr);
}

/* A closed line: the two offset loops, in opposite directions, so only the band between them
 * is inside. */
static void closed_ribbon(cairo_t *cr, const cs_element_t *e, const double *p, curve_fn f,
                          double t0, double t1, int segments) {
  double half = e->stroke_width / 2;
  hermite(cr, e, p, f, half, t0, t1, segments, FALSE);
  cairo_close_path(cr);
  hermite(cr, e, p, f, -half, t1, t0, segments, FALSE);
  cairo_close_path(cr);
}

/* p: base, sign, phase, phase2, period2 */
static void wave_at(const cs_element_t *e, const double *p, double t, double *x, double *y,
                    double *dx, double *dy, double *ddx, double *ddy) {
  double w1 = 2 * G_PI / e->period, w2 = 2 * G_PI / p[4], u = t - e->x;
  double a1 = p[1] * e->amplitude, a2 = 0.35 * e->amplitude;
  *x = t;
  *y = p[0] + a1 * sin(u * w1 + p[2]) + a2 * sin(u * w2 + p[3]);
  *dx = 1;
  *dy = a1 * w1 * cos(u * w1 + p[2]) + a2 * w2 * cos(u * w2 + p[3]);
  *ddx = 0;
  *ddy = -a1 * w1 * w1 * sin(u * w1 + p[2]) - a2 * w2 * w2 * sin(u * w2 + p[3]);
}

/* What is done with each curve of a pattern: drawn as a ribbon, or measured. */
typedef struct curve_visitor {
  void (*curve)(struct curve_visitor *v, const cs_element_t *e, const double *p, curve_fn f,
                double t0, double t1, int segments, gboolean closed);
} curve_visitor_t;

/* Bands of interlaced sine waves, two families in counter-phase: the "rope" look of banknote
 * backgrounds. Each curve is the sum of two sines of unrelated periods, so no two bands are
 * alike and a copy by hand or by scanner is hard to make exact. */
static void waves(curve_visitor_t *v, const cs_element_t *e) {
  guint32 rng = e->seed * 2654435761u + 1;
  for (int i = 0; i < e->count; i++) {
    double p[5];
    p[0] = e->y + e->h * (i + 0.5) / e->count;
    p[2] = next_unit(&rng) * 2 * G_PI;
    p[3] = next_unit(&rng) * 2 * G_PI;
    p[4] = e->period * (0.31 + 0.1 * next_unit(&rng));
    /* a quarter period per cubic: within ~1.6% of the amplitude (0.02 mm), invisible */
    int segments = (int)ceil(e->w / (MIN(e->period, p[4]) / 4));
    for (int family = 0; family < 2; family++) {
      p[1] = family ? -1 : 1;
      v->curve(v, e, p, wave_at, e->x, e->x + e->w, segments, FALSE);
    }
  }
}

/* p: cx, cy, r0, f, phase, lobes */
static void ring_at(const cs_element_t *e, const double *p, double th, double *x, double *y,
                    double *dx, double *dy, double *ddx, double *ddy) {
  double a = e->amplitude * p[3], l = p[5];
  double r = p[2] + a * (0.5 + 0.5 * sin(l * th + p[4]));
  double dr = a * 0.5 * l * cos(l * th + p[4]);
  double ddr = -a * 0.5 * l * l * sin(l * th + p[4]);
  double c = cos(th), s = sin(th);
  *x = p[0] + r * c;
  *y = p[1] + r * s;
  *dx = dr * c - r * s;
  *dy = dr * s + r * c;
  *ddx = ddr * c - 2 * dr * s - r * c;
  *ddy = ddr * s + 2 * dr * c - r * s;
}

/* Nested wavy rings around the box's centre: a rosette, like the seals of security print. */
static void rosette(curve_visitor_t *v, const cs_element_t *e) {
  guint32 rng = e->seed * 2654435761u + 7;
  double radius = MIN(e->w, e->h) / 2;
  int lobes = MAX(3, (int)round(e->period));
  for (int i = 0; i < e->count; i++) {
    double f = 0.3 + 0.7 * (i + 1) / e->count;
    double p[6] = {e->x + e->w / 2, e->y + e->h / 2, radius * f - e->amplitude, f,
                   next_unit(&rng) * 2 * G_PI / lobes, lobes};
    v->curve(v, e, p, ring_at, 0, 2 * G_PI, lobes * 4, TRUE);
  }
}

static void visit(curve_visitor_t *v, const cs_element_t *e) {
  if (e->style == CS_GUILLOCHE_ROSETTE)
    rosette(v, e);
  else
    waves(v, e);
}

typedef struct {
  curve_visitor_t base;
  cairo_t *cr;
} drawer_t;

static void draw_curve(curve_visitor_t *v, const cs_element_t *e, const double *p, curve_fn f,
                       double t0, double t1, int segments, gboolean closed) {
  cairo_t *cr = ((drawer_t *)v)->cr;
  if (closed)
    closed_ribbon(cr, e, p, f, t0, t1, segments);
  else
    open_ribbon(cr, e, p, f, t0, t1, segments);
}

void cs_artwork_guilloche(cairo_t *cr, const cs_element_t *e) {
  cairo_save(cr);
  cairo_rectangle(cr, e->x, e->y, e->w, e->h);
  cairo_clip(cr);
  cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
  drawer_t d = {{draw_curve}, cr};
  visit(&d.base, e);
  cairo_fill(cr); /* one operation for the whole pattern: a PDF backend analyses each one */
  cairo_restore(cr);
}

typedef struct {
  curve_visitor_t base;
  double min_radius;
} measurer_t;

/* The radius of curvature |D|^3 / |x'y'' - y'x''| at t (G_MAXDOUBLE where straight). */
static double radius_at(const cs_element_t *e, const double *p, curve_fn f, double t) {
  double x, y, dx, dy, ddx, ddy;
  f(e, p, t, &x, &y, &dx, &dy, &ddx, &ddy);
  double cross = fabs(dx * ddy - dy * ddx), speed = hypot(dx, dy);
  return cross > 0 ? speed * speed * speed / cross : G_MAXDOUBLE;
}

/* Sampled 8 times a cubic (a cubic spans at most a quarter of the shortest period or lobe),
 * then each sampled local minimum is narrowed down by golden-section search between its
 * neighbours: a steep bend is sharper than the samples can see (a rosette of deep lobes
 * measured 6 times its true radius from samples alone). */
static void measure_curve(curve_visitor_t *v, const cs_element_t *e, const double *p, curve_fn f,
                          double t0, double t1, int segments, gboolean closed) {
  (void)closed;
  measurer_t *m = (measurer_t *)v;
  int n = segments * 8;
  double step = (t1 - t0) / n;
  double before = radius_at(e, p, f, t0 - step), here = radius_at(e, p, f, t0);
  for (int k = 0; k <= n; k++) {
    double t = t0 + k * step, after = radius_at(e, p, f, t + step);
    m->min_radius = MIN(m->min_radius, here);
    if (here <= before && here <= after && here < G_MAXDOUBLE) {
      const double g = 0.6180339887498949;
      double a = t - step, b = t + step;
      double c = b - g * (b - a), d = a + g * (b - a);
      double rc = radius_at(e, p, f, c), rd = radius_at(e, p, f, d);
      for (int i = 0; i < 24; i++) {
        if (rc < rd) {
          b = d, d = c, rd = rc;
          c = b - g * (b - a);
          rc = radius_at(e, p, f, c);
        } else {
          a = c, c = d, rc = rd;
          d = a + g * (b - a);
          rd = radius_at(e, p, f, d);
        }
      }
      m->min_radius = MIN(m->min_radius, MIN(rc, rd));
    }
    before = here;
    here = after;
  }
}

double cs_artwork_guilloche_min_radius(const cs_element_t *e) {
  measurer_t m = {{measure_curve}, G_MAXDOUBLE};
  visit(&m.base, e);
  return m.min_radius;
}
