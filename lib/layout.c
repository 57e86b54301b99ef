#include "layout.h"

#include <math.h>
#include <openssl/evp.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "artwork.h"
#include "config.h"
#include "error.h"
#include "i18n.h"
#include "io.h"

#define LAYOUT_MAX_BYTES (4u * 1024u * 1024u)

static const char *const field_names[] = {
    "title",          "name",           "sex",           "certificate_number",
    "id_number",      "category",       "item",          "personnel_type",
    "industry",       "first_issue_date", "valid_from",  "valid_until",
    "validity",       "review_due",     "issuing_authority", "archive_code",
    "remarks",        "card_serial",    "review.1.due",  "review.1.done",
    "review.2.due",   "review.2.done",  "review.3.due",  "review.3.done",
    "review.4.due",   "review.4.done",  NULL};

const char *const *cs_layout_field_names(void) { return field_names; }

gboolean cs_layout_field_known(const char *name) {
  for (guint i = 0; field_names[i]; i++)
    if (g_str_equal(field_names[i], name))
      return TRUE;
  return FALSE;
}

const char *cs_layouts_dir(void) {
  return cs_resource_dir("CARDSPOOL_LAYOUTSDIR", CS_LAYOUTSDIR, CS_SOURCE_LAYOUTSDIR,
                         "special-operation.json");
}

const char *cs_layout_default_name(cs_cert_type_t type) {
  switch (type) {
  case CS_CERT_SPECIAL_OPERATION:
    return "special-operation";
  case CS_CERT_SAFETY_COMPETENCE:
    return "safety-competence";
  case CS_CERT_UNKNOWN:
    break;
  }
  return NULL;
}

static void element_free(gpointer p) {
  cs_element_t *e = p;
  g_free(e->id);
  g_free(e->text);
  g_free(e->field);
  g_free(e->font_role);
  g_free(e->date_format);
  g_free(e->file);
  g_clear_pointer(&e->svg_data, g_bytes_unref);
  g_free(e->include_side);
  g_free(e);
}

static void side_free(gpointer p) {
  cs_side_t *s = p;
  g_free(s->name);
  g_ptr_array_unref(s->elements);
  g_free(s);
}

void cs_layout_free(cs_layout_t *l) {
  if (l == NULL)
    return;
  g_free(l->path);
  g_free(l->name);
  g_free(l->version);
  g_free(l->sha256);
  g_free(l->provenance);
  g_clear_pointer(&l->sides, g_ptr_array_unref);
  g_free(l);
}

const cs_side_t *cs_layout_side(const cs_layout_t *l, const char *name) {
  for (guint i = 0; i < l->sides->len; i++) {
    const cs_side_t *s = l->sides->pdata[i];
    if (g_str_equal(s->name, name))
      return s;
  }
  return NULL;
}

const cs_element_t *cs_side_element(const cs_side_t *s, const char *id) {
  for (guint i = 0; i < s->elements->len; i++) {
    const cs_element_t *e = s->elements->pdata[i];
    if (e->id && g_str_equal(e->id, id))
      return e;
  }
  return NULL;
}

/* ---- loader: every failure names the file and the JSON path ---- */

typedef struct {
  const char *file;
  GError **error;
  gboolean failed;
  JsonObject *colours;
  const char *dir;
  EVP_MD_CTX *hash;
} loader_t;

G_GNUC_PRINTF(3, 4)
static gboolean fail(loader_t *l, const char *path, const char *fmt, ...) {
  if (l->failed)
    return FALSE;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(l->error, CS_ERROR, CS_ERROR_LAYOUT, "%s: %s: %s", l->file, path, msg);
  l->failed = TRUE;
  return FALSE;
}

static gboolean check_members(loader_t *l, JsonObject *o, const char *path,
                              const char *const *allowed) {
  g_autoptr(GList) names = json_object_get_members(o);
  for (GList *n = names; n; n = n->next) {
    gboolean ok = FALSE;
    for (guint i = 0; allowed[i] && !ok; i++)
      ok = g_str_equal(allowed[i], n->data);
    if (!ok)
      return fail(l, path, _("unknown member \"%s\""), (char *)n->data);
  }
  return TRUE;
}

static JsonNode *member(JsonObject *o, const char *name) {
  return json_object_get_member(o, name);
}

static gboolean get_number(loader_t *l, JsonObject *o, const char *path, const char *name,
                           gboolean required, double min, double max, double *out) {
  JsonNode *n = member(o, name);
  if (n == NULL)
    return required ? fail(l, path, _("\"%s\" is required"), name) : TRUE;
  GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return fail(l, path, _("\"%s\" must be a number"), name);
  double v = json_node_get_double(n);
  if (!(v >= min && v <= max))
    return fail(l, path, _("\"%s\" must be from %g to %g, not %g"), name, min, max, v);
  *out = v;
  return TRUE;
}

static gboolean get_string(loader_t *l, JsonObject *o, const char *path, const char *name,
                           gboolean required, char **out) {
  JsonNode *n = member(o, name);
  if (n == NULL)
    return required ? fail(l, path, _("\"%s\" is required"), name) : TRUE;
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
      *json_node_get_string(n) == 0)
    return fail(l, path, _("\"%s\" must be a non-empty string"), name);
  g_free(*out);
  *out = g_strdup(json_node_get_string(n));
  return TRUE;
}

static gboolean get_bool(loader_t *l, JsonObject *o, const char *path, const char *name,
                         gboolean *out) {
  JsonNode *n = member(o, name);
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
    return fail(l, path, _("\"%s\" must be true or false"), name);
  *out = json_node_get_boolean(n);
  return TRUE;
}

static gboolean get_enum(loader_t *l, JsonObject *o, const char *path, const char *name,
                         const char *const *values, int *out) {
  g_autofree char *s = NULL;
  if (!get_string(l, o, path, name, FALSE, &s))
    return FALSE;
  if (s == NULL)
    return TRUE;
  for (int i = 0; values[i]; i++)
    if (g_str_equal(values[i], s)) {
      *out = i;
      return TRUE;
    }
  g_autofree char *list = g_strjoinv(", ", (char **)values);
  return fail(l, path, _("\"%s\" must be one of %s, not \"%s\""), name, list, s);
}

static gboolean parse_colour(loader_t *l, const char *path, const char *text, cs_colour_t *c) {
  const char *s = text;
  if (s[0] == '@') {
    JsonNode *n = l->colours ? json_object_get_member(l->colours, s + 1) : NULL;
    if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
      return fail(l, path, _("no colour named \"%s\" in \"colours\""), s + 1);
    s = json_node_get_string(n);
  }
  gsize len = strlen(s);
  gboolean hex = s[0] == '#' && (len == 7 || len == 9);
  for (gsize i = 1; hex && i < len; i++)
    hex = g_ascii_isxdigit(s[i]);
  if (!hex)
    return fail(l, path, _("\"%s\" is not a colour #rrggbb, #rrggbbaa or @name"), text);
  guint v[4] = {0, 0, 0, 255};
  for (guint i = 0; i < (len - 1) / 2; i++)
    v[i] = (guint)(g_ascii_xdigit_value(s[1 + 2 * i]) * 16 + g_ascii_xdigit_value(s[2 + 2 * i]));
  *c = (cs_colour_t){v[0] / 255.0, v[1] / 255.0, v[2] / 255.0, v[3] / 255.0};
  return TRUE;
}

/* "#rrggbb", "@name", or {"gradient": {"angle": deg, "radial": bool, "stops": [[off, colour]]}} */
static gboolean get_paint(loader_t *l, JsonObject *o, const char *path, const char *name,
                          cs_paint_t *out) {
  JsonNode *n = member(o, name);
  if (n == NULL)
    return TRUE;
  g_autofree char *p = g_strdup_printf("%s.%s", path, name);
  memset(out, 0, sizeof *out);
  out->set = TRUE;
  if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING) {
    out->n_stops = 1;
    return parse_colour(l, p, json_node_get_string(n), &out->colours[0]);
  }
  JsonObject *go = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
  JsonNode *gn = go ? json_object_get_member(go, "gradient") : NULL;
  if (gn == NULL || !JSON_NODE_HOLDS_OBJECT(gn) || json_object_get_size(go) != 1)
    return fail(l, p, _("must be a colour or {\"gradient\": {…}}"));
  JsonObject *g = json_node_get_object(gn);
  g_autofree char *gp = g_strdup_printf("%s.gradient", p);
  static const char *const allowed[] = {"angle", "radial", "stops", NULL};
  if (!check_members(l, g, gp, allowed) ||
      !get_number(l, g, gp, "angle", FALSE, -360, 360, &out->angle_deg) ||
      !get_bool(l, g, gp, "radial", &out->radial))
    return FALSE;
  JsonNode *sn = json_object_get_member(g, "stops");
  JsonArray *stops = sn && JSON_NODE_HOLDS_ARRAY(sn) ? json_node_get_array(sn) : NULL;
  if (stops == NULL || json_array_get_length(stops) < 2 ||
      json_array_get_length(stops) > CS_PAINT_MAX_STOPS)
    return fail(l, gp, _("\"stops\" must be an array of 2 to %d [offset, colour] pairs"),
                CS_PAINT_MAX_STOPS);
  out->n_stops = (int)json_array_get_length(stops);
  for (int i = 0; i < out->n_stops; i++) {
    g_autofree char *sp = g_strdup_printf("%s.stops[%d]", gp, i);
    JsonNode *e = json_array_get_element(stops, (guint)i);
    JsonArray *pair = JSON_NODE_HOLDS_ARRAY(e) ? json_node_get_array(e) : NULL;
    JsonNode *off = pair && json_array_get_length(pair) == 2 ? json_array_get_element(pair, 0) : NULL;
    JsonNode *col = off ? json_array_get_element(pair, 1) : NULL;
    GType ot = off && JSON_NODE_HOLDS_VALUE(off) ? json_node_get_value_type(off) : G_TYPE_INVALID;
    /* a number and a string, checked before reading: json-glib's getters coerce (a string
     * offset would read as 0) or emit criticals on the wrong type */
    if ((ot != G_TYPE_INT64 && ot != G_TYPE_DOUBLE) || col == NULL ||
        !JSON_NODE_HOLDS_VALUE(col) || json_node_get_value_type(col) != G_TYPE_STRING)
      return fail(l, sp, _("must be [offset, colour]"));
    out->offsets[i] = json_array_get_double_element(pair, 0);
    if (out->offsets[i] < 0 || out->offsets[i] > 1 || (i > 0 && out->offsets[i] < out->offsets[i - 1]))
      return fail(l, sp, _("offsets must rise from 0 to 1"));
    if (!parse_colour(l, sp, json_array_get_string_element(pair, 1), &out->colours[i]))
      return FALSE;
  }
  return TRUE;
}

static const char *const type_names[] = {"background", "guilloche", "rect", "line",  "text",
                                          "field",      "photo",     "qr",   "svg",   "include",
                                          NULL};
static const char *const panel_names[] = {"colour", "k", "overlay", NULL};
static const char *const align_names[] = {"left", "center", "right", "distribute", NULL};
static const char *const valign_names[] = {"top", "middle", "bottom", NULL};
static const char *const fit_names[] = {"none", "shrink", "shrink-wrap", NULL};
static const char *const style_names[] = {"waves", "rosette", NULL};
static const char *const ecc_names[] = {"L", "M", "Q", "H", NULL};
static const char *const date_names[] = {"iso", "zh", NULL};

static const char *const *allowed_members(cs_element_type_t t) {
  static const char *const background[] = {"type", "id", "panel", "fill", NULL};
  static const char *const guilloche[] = {"type", "id", "panel", "x", "y", "w", "h", "stroke",
                                          "stroke_width", "style", "count", "amplitude",
                                          "period", "seed", NULL};
  static const char *const rect[] = {"type", "id", "panel", "x", "y", "w", "h", "fill",
                                     "stroke", "stroke_width", "dash", "radius", NULL};
  static const char *const line[] = {"type", "id", "panel", "x", "y", "x2", "y2", "stroke",
                                     "stroke_width", "dash", NULL};
  static const char *const text[] = {"type", "id", "panel", "x", "y", "w", "h", "text", "font",
                                     "bold", "size", "colour", "align", "valign",
                                     "letter_spacing", "line_spacing", "repeat", "max_lines",
                                     NULL};
  static const char *const field[] = {"type", "id", "panel", "x", "y", "w", "h", "field",
                                      "font", "bold", "size", "min_size", "colour", "align",
                                      "valign", "fit", "max_lines", "letter_spacing",
                                      "line_spacing", "date_format", NULL};
  static const char *const photo[] = {"type", "id", "panel", "x", "y", "w", "h", "stroke",
                                      "stroke_width", NULL};
  static const char *const qr[] = {"type", "id", "panel", "x", "y", "w", "h", "ecc", NULL};
  static const char *const svg[] = {"type", "id", "panel", "x", "y", "w", "h", "file", NULL};
  static const char *const include[] = {"type", "id", "side", "x", "y", "scale", NULL};
  switch (t) {
  case CS_EL_BACKGROUND:
    return background;
  case CS_EL_GUILLOCHE:
    return guilloche;
  case CS_EL_RECT:
    return rect;
  case CS_EL_LINE:
    return line;
  case CS_EL_TEXT:
    return text;
  case CS_EL_FIELD:
    return field;
  case CS_EL_PHOTO:
    return photo;
  case CS_EL_QR:
    return qr;
  case CS_EL_SVG:
    return svg;
  case CS_EL_INCLUDE:
    return include;
  }
  return background;
}

static gboolean get_box(loader_t *l, JsonObject *o, const char *path, const cs_side_t *s,
                        cs_element_t *e, gboolean required) {
  double lim_w = s->width + s->bleed, lim_h = s->height + s->bleed;
  if (!get_number(l, o, path, "x", required, -s->bleed, lim_w, &e->x) ||
      !get_number(l, o, path, "y", required, -s->bleed, lim_h, &e->y) ||
      !get_number(l, o, path, "w", required, 0.01, lim_w + s->bleed, &e->w) ||
      !get_number(l, o, path, "h", required, 0.01, lim_h + s->bleed, &e->h))
    return FALSE;
  if (e->x + e->w > lim_w + 1e-9 || e->y + e->h > lim_h + 1e-9)
    return fail(l, path, _("the box (%g, %g, %g × %g mm) reaches past the side's edge"), e->x,
                e->y, e->w, e->h);
  return TRUE;
}

static gboolean parse_text_style(loader_t *l, JsonObject *o, const char *path, cs_element_t *e) {
  int align = CS_ALIGN_LEFT, valign = CS_VALIGN_MIDDLE;
  e->font_role = g_strdup("song");
  e->size_pt = 8;
  e->line_spacing = 1.15;
  e->max_lines = 1;
  e->fill = (cs_paint_t){.set = TRUE, .n_stops = 1, .colours = {{0, 0, 0, 1}}};
  double max_lines = 1;
  if (!get_string(l, o, path, "font", FALSE, &e->font_role) ||
      !get_bool(l, o, path, "bold", &e->bold) ||
      !get_number(l, o, path, "size", FALSE, 0.5, 200, &e->size_pt) ||
      !get_paint(l, o, path, "colour", &e->fill) ||
      !get_enum(l, o, path, "align", align_names, &align) ||
      !get_enum(l, o, path, "valign", valign_names, &valign) ||
      !get_number(l, o, path, "letter_spacing", FALSE, -5, 50, &e->letter_spacing_pt) ||
      !get_number(l, o, path, "line_spacing", FALSE, 0.8, 3, &e->line_spacing) ||
      !get_number(l, o, path, "max_lines", FALSE, 1, 20, &max_lines))
    return FALSE;
  if (!g_str_equal(e->font_role, "song") && !g_str_equal(e->font_role, "hei"))
    return fail(l, path, _("\"font\" must be \"song\" or \"hei\", not \"%s\""), e->font_role);
  e->align = align;
  e->valign = valign;
  e->max_lines = (int)max_lines;
  return TRUE;
}

static cs_element_t *parse_element(loader_t *l, JsonNode *n, const char *path, cs_side_t *s) {
  if (!JSON_NODE_HOLDS_OBJECT(n)) {
    fail(l, path, _("an element must be an object"));
    return NULL;
  }
  JsonObject *o = json_node_get_object(n);
  int type = -1, panel = CS_PANEL_COLOUR;
  if (!get_enum(l, o, path, "type", type_names, &type))
    return NULL;
  if (type < 0) {
    fail(l, path, _("\"type\" is required"));
    return NULL;
  }
  g_autoptr(GPtrArray) holder = g_ptr_array_new_with_free_func(element_free);
  cs_element_t *e = g_new0(cs_element_t, 1);
  g_ptr_array_add(holder, e);
  e->type = type;
  e->scale = 1;
  if (!check_members(l, o, path, allowed_members(e->type)) ||
      !get_string(l, o, path, "id", FALSE, &e->id) ||
      !get_enum(l, o, path, "panel", panel_names, &panel))
    return NULL;
  e->panel = panel;
  e->stroke_width = 0.1;
  gboolean ok = TRUE;
  switch (e->type) {
  case CS_EL_BACKGROUND:
    ok = get_paint(l, o, path, "fill", &e->fill) &&
         (e->fill.set || fail(l, path, _("\"fill\" is required")));
    e->x = e->y = -s->bleed;
    e->w = s->width + 2 * s->bleed;
    e->h = s->height + 2 * s->bleed;
    break;
  case CS_EL_GUILLOCHE: {
    int style = CS_GUILLOCHE_WAVES;
    double count = 24, seed = 1;
    e->amplitude = 1.5;
    e->period = 12;
    e->stroke_width = 0.06;
    if (member(o, "x") || member(o, "y") || member(o, "w") || member(o, "h"))
      ok = get_box(l, o, path, s, e, TRUE);
    else {
      e->x = e->y = -s->bleed;
      e->w = s->width + 2 * s->bleed;
      e->h = s->height + 2 * s->bleed;
    }
    ok = ok && get_paint(l, o, path, "stroke", &e->stroke) &&
         (e->stroke.set || fail(l, path, _("\"stroke\" is required"))) &&
         get_number(l, o, path, "stroke_width", FALSE, 0.01, 1, &e->stroke_width) &&
         get_enum(l, o, path, "style", style_names, &style) &&
         get_number(l, o, path, "count", FALSE, 1, 400, &count) &&
         get_number(l, o, path, "amplitude", FALSE, 0, 50, &e->amplitude) &&
         get_number(l, o, path, "period", FALSE, 0.5, 200, &e->period) &&
         get_number(l, o, path, "seed", FALSE, 0, 1e9, &seed);
    e->style = style;
    e->count = (int)count;
    e->seed = (guint)seed;
    /* lines are drawn as ribbons (artwork.c): one bent tighter than half its width would fold
     * over itself and leave holes where a stroke would not */
    if (ok) {
      double radius = cs_artwork_guilloche_min_radius(e);
      if (radius < e->stroke_width / 2)
        ok = fail(l, path,
                  _("its lines bend tighter (radius %.3f mm) than half their width "
                    "(%.3f mm): lower \"amplitude\", raise \"period\" (waves) or lower it "
                    "(rosette lobes), or make \"stroke_width\" thinner"),
                  radius, e->stroke_width / 2);
    }
    break;
  }
  case CS_EL_RECT:
    ok = get_box(l, o, path, s, e, TRUE) && get_paint(l, o, path, "fill", &e->fill) &&
         get_paint(l, o, path, "stroke", &e->stroke) &&
         get_number(l, o, path, "stroke_width", FALSE, 0.01, 10, &e->stroke_width) &&
         get_number(l, o, path, "dash", FALSE, 0, 10, &e->dash) &&
         get_number(l, o, path, "radius", FALSE, 0, 50, &e->radius);
    if (ok && !e->fill.set && !e->stroke.set)
      ok = fail(l, path, _("a rect needs \"fill\" or \"stroke\""));
    break;
  case CS_EL_LINE:
    ok = get_number(l, o, path, "x", TRUE, -s->bleed, s->width + s->bleed, &e->x) &&
         get_number(l, o, path, "y", TRUE, -s->bleed, s->height + s->bleed, &e->y) &&
         get_number(l, o, path, "x2", TRUE, -s->bleed, s->width + s->bleed, &e->x2) &&
         get_number(l, o, path, "y2", TRUE, -s->bleed, s->height + s->bleed, &e->y2) &&
         get_paint(l, o, path, "stroke", &e->stroke) &&
         (e->stroke.set || fail(l, path, _("\"stroke\" is required"))) &&
         get_number(l, o, path, "stroke_width", FALSE, 0.01, 10, &e->stroke_width) &&
         get_number(l, o, path, "dash", FALSE, 0, 10, &e->dash);
    break;
  case CS_EL_TEXT:
    ok = get_box(l, o, path, s, e, TRUE) && parse_text_style(l, o, path, e) &&
         get_string(l, o, path, "text", TRUE, &e->text) &&
         get_bool(l, o, path, "repeat", &e->repeat);
    break;
  case CS_EL_FIELD: {
    int fit = CS_FIT_SHRINK, date_format = 0;
    ok = get_box(l, o, path, s, e, TRUE) && parse_text_style(l, o, path, e) &&
         get_string(l, o, path, "field", TRUE, &e->field) &&
         get_enum(l, o, path, "fit", fit_names, &fit) &&
         get_enum(l, o, path, "date_format", date_names, &date_format);
    e->fit = fit;
    e->date_format = g_strdup(date_names[date_format]);
    e->min_size_pt = e->size_pt;
    ok = ok && get_number(l, o, path, "min_size", FALSE, 0.5, e->size_pt, &e->min_size_pt);
    if (ok && !cs_layout_field_known(e->field)) {
      g_autofree char *known = g_strjoinv(", ", (char **)field_names);
      ok = fail(l, path, _("unknown field \"%s\"; known fields: %s"), e->field, known);
    }
    if (ok && e->id == NULL)
      e->id = g_strdup(e->field);
    break;
  }
  case CS_EL_PHOTO:
    ok = get_box(l, o, path, s, e, TRUE) && get_paint(l, o, path, "stroke", &e->stroke) &&
         get_number(l, o, path, "stroke_width", FALSE, 0.01, 2, &e->stroke_width);
    if (ok && e->id == NULL)
      e->id = g_strdup("photo");
    break;
  case CS_EL_QR: {
    int ecc = 1;
    ok = get_box(l, o, path, s, e, TRUE) && get_enum(l, o, path, "ecc", ecc_names, &ecc);
    e->ecc = ecc;
    if (ok && e->id == NULL)
      e->id = g_strdup("qr");
    break;
  }
  case CS_EL_SVG: {
    ok = get_box(l, o, path, s, e, TRUE) && get_string(l, o, path, "file", TRUE, &e->file);
    if (!ok)
      break;
    if (g_path_is_absolute(e->file) || strstr(e->file, "..")) {
      ok = fail(l, path, _("\"file\" must be a path inside the layouts folder"));
      break;
    }
    g_autofree char *full = g_build_filename(l->dir, e->file, NULL);
    g_autoptr(GError) local = NULL;
    e->svg_data = cs_file_read(full, LAYOUT_MAX_BYTES, &local);
    if (e->svg_data == NULL) {
      ok = fail(l, path, "%s", local->message);
      break;
    }
    gsize len = 0;
    const void *d = g_bytes_get_data(e->svg_data, &len);
    EVP_DigestUpdate(l->hash, d, len);
    break;
  }
  case CS_EL_INCLUDE:
    ok = get_string(l, o, path, "side", TRUE, &e->include_side) &&
         get_number(l, o, path, "x", TRUE, 0, s->width, &e->x) &&
         get_number(l, o, path, "y", TRUE, 0, s->height, &e->y) &&
         get_number(l, o, path, "scale", FALSE, 0.05, 20, &e->scale);
    break;
  }
  if (!ok)
    return NULL;
  return g_ptr_array_steal_index(holder, 0);
}

static cs_side_t *parse_side(loader_t *l, JsonNode *n, const char *path) {
  if (!JSON_NODE_HOLDS_OBJECT(n)) {
    fail(l, path, _("a side must be an object"));
    return NULL;
  }
  JsonObject *o = json_node_get_object(n);
  static const char *const allowed[] = {"name", "kind", "width", "height", "radius", "bleed",
                                        "safe_margin", "elements", NULL};
  g_autoptr(GPtrArray) holder = g_ptr_array_new_with_free_func(side_free);
  cs_side_t *s = g_new0(cs_side_t, 1);
  s->elements = g_ptr_array_new_with_free_func(element_free);
  g_ptr_array_add(holder, s);
  static const char *const kinds[] = {"card", "page", NULL};
  int kind = -1;
  if (!check_members(l, o, path, allowed) || !get_string(l, o, path, "name", TRUE, &s->name) ||
      !get_enum(l, o, path, "kind", kinds, &kind))
    return NULL;
  if (kind < 0) {
    fail(l, path, _("\"kind\" is required"));
    return NULL;
  }
  s->is_card = kind == 0;
  if (s->is_card) {
    s->width = CS_CARD_WIDTH_MM;
    s->height = CS_CARD_HEIGHT_MM;
    s->radius = CS_CARD_RADIUS_MM;
    s->bleed = 1.0;
    s->safe_margin = 2.0;
  }
  gboolean need_size = !s->is_card;
  if (!get_number(l, o, path, "width", need_size, 10, 1000, &s->width) ||
      !get_number(l, o, path, "height", need_size, 10, 1000, &s->height) ||
      !get_number(l, o, path, "radius", FALSE, 0, 20, &s->radius) ||
      !get_number(l, o, path, "bleed", FALSE, 0, 5, &s->bleed) ||
      !get_number(l, o, path, "safe_margin", FALSE, 0, 20, &s->safe_margin))
    return NULL;
  JsonNode *en = member(o, "elements");
  if (en == NULL || !JSON_NODE_HOLDS_ARRAY(en)) {
    fail(l, path, _("\"elements\" must be an array"));
    return NULL;
  }
  JsonArray *arr = json_node_get_array(en);
  for (guint i = 0; i < json_array_get_length(arr); i++) {
    g_autofree char *ep = g_strdup_printf("%s.elements[%u]", path, i);
    cs_element_t *e = parse_element(l, json_array_get_element(arr, i), ep, s);
    if (e == NULL)
      return NULL;
    if (e->id && cs_side_element(s, e->id)) {
      fail(l, ep, _("the id \"%s\" is used twice on this side"), e->id);
      element_free(e);
      return NULL;
    }
    g_ptr_array_add(s->elements, e);
  }
  return g_ptr_array_steal_index(holder, 0);
}

/* name: the file name errors give; path: layout->path (NULL for data not from a file). */
static cs_layout_t *load_data(const char *text, gsize len, const char *name, const char *path,
                              const char *base_dir, GError **error) {
  cs_i18n_init();
  loader_t l = {name, error, FALSE, NULL, base_dir, EVP_MD_CTX_new()};
  EVP_DigestInit_ex(l.hash, EVP_sha256(), NULL);
  EVP_DigestUpdate(l.hash, text, len);

  g_autoptr(cs_layout_t) layout = g_new0(cs_layout_t, 1);
  layout->path = g_strdup(path);
  layout->sides = g_ptr_array_new_with_free_func(side_free);
  g_autoptr(JsonParser) parser = json_parser_new_immutable();
  g_autoptr(GError) local = NULL;
  if (!json_parser_load_from_data(parser, text, (gssize)len, &local)) {
    fail(&l, "$", "%s", local->message);
    EVP_MD_CTX_free(l.hash);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(parser);
  static const char *const allowed[] = {"format", "name", "version", "certificate_type",
                                        "provenance", "colours", "sides", NULL};
  g_autofree char *format = NULL, *type = NULL;
  gboolean ok = root && JSON_NODE_HOLDS_OBJECT(root);
  if (!ok)
    fail(&l, "$", _("a layout must be a JSON object"));
  JsonObject *o = ok ? json_node_get_object(root) : NULL;
  ok = ok && check_members(&l, o, "$", allowed) &&
       get_string(&l, o, "$", "format", TRUE, &format) &&
       (g_str_equal(format, CS_LAYOUT_FORMAT) ||
        fail(&l, "$.format", _("must be \"%s\""), CS_LAYOUT_FORMAT)) &&
       get_string(&l, o, "$", "name", TRUE, &layout->name) &&
       get_string(&l, o, "$", "version", TRUE, &layout->version) &&
       get_string(&l, o, "$", "certificate_type", TRUE, &type) &&
       get_string(&l, o, "$", "provenance", FALSE, &layout->provenance);
  if (ok && (layout->type = cs_cert_type_from_code(type)) == CS_CERT_UNKNOWN)
    ok = fail(&l, "$.certificate_type", _("unknown certificate type \"%s\""), type);
  if (ok && member(o, "colours")) {
    JsonNode *cn = member(o, "colours");
    if (!JSON_NODE_HOLDS_OBJECT(cn))
      ok = fail(&l, "$.colours", _("must be an object of name: \"#rrggbb\""));
    else
      l.colours = json_node_get_object(cn);
  }
  JsonNode *sn = ok ? member(o, "sides") : NULL;
  if (ok && (sn == NULL || !JSON_NODE_HOLDS_ARRAY(sn)))
    ok = fail(&l, "$.sides", _("must be an array of sides"));
  for (guint i = 0; ok && i < json_array_get_length(json_node_get_array(sn)); i++) {
    g_autofree char *sp = g_strdup_printf("$.sides[%u]", i);
    cs_side_t *s = parse_side(&l, json_array_get_element(json_node_get_array(sn), i), sp);
    if (s == NULL) {
      ok = FALSE;
      break;
    }
    if (cs_layout_side(layout, s->name))
      ok = fail(&l, sp, _("the side \"%s\" appears twice"), s->name);
    g_ptr_array_add(layout->sides, s);
  }
  /* includes: the side exists, and is not itself an including side (no cycles) */
  for (guint i = 0; ok && i < layout->sides->len; i++) {
    cs_side_t *s = layout->sides->pdata[i];
    for (guint j = 0; ok && j < s->elements->len; j++) {
      cs_element_t *e = s->elements->pdata[j];
      if (e->type != CS_EL_INCLUDE)
        continue;
      g_autofree char *ep = g_strdup_printf("$.sides[%u].elements[%u]", i, j);
      const cs_side_t *inc = cs_layout_side(layout, e->include_side);
      if (inc == NULL)
        ok = fail(&l, ep, _("no side named \"%s\""), e->include_side);
      for (guint k = 0; ok && k < inc->elements->len; k++)
        if (((cs_element_t *)inc->elements->pdata[k])->type == CS_EL_INCLUDE)
          ok = fail(&l, ep, _("the side \"%s\" includes another side itself"), inc->name);
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(l.hash, md, &md_len);
  EVP_MD_CTX_free(l.hash);
  if (!ok)
    return NULL;
  layout->sha256 = g_malloc(2 * md_len + 1);
  for (unsigned int i = 0; i < md_len; i++)
    g_snprintf(layout->sha256 + 2 * i, 3, "%02x", md[i]);
  return g_steal_pointer(&layout);
}

cs_layout_t *cs_layout_load(const char *path, GError **error) {
  g_autoptr(GBytes) bytes = cs_file_read(path, LAYOUT_MAX_BYTES, error);
  if (bytes == NULL)
    return NULL;
  g_autofree char *base = g_path_get_basename(path);
  g_autofree char *dir = g_path_get_dirname(path);
  gsize len = 0;
  const char *text = g_bytes_get_data(bytes, &len);
  return load_data(text ? text : "", len, base, path, dir, error);
}

cs_layout_t *cs_layout_load_data(const char *data, gsize length, const char *name,
                                 const char *base_dir, GError **error) {
  g_return_val_if_fail(data != NULL || length == 0, NULL);
  return load_data(data ? data : "", length, name ? name : "layout", NULL,
                   base_dir ? base_dir : cs_layouts_dir(), error);
}

cs_layout_t *cs_layout_load_named(const char *name, GError **error) {
  if (name == NULL || strchr(name, '/') || name[0] == '.') {
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, _("\"%s\" is not a layout name"),
                name ? name : "(null)");
    return NULL;
  }
  g_autofree char *file = g_strconcat(name, ".json", NULL);
  g_autofree char *path = g_build_filename(cs_layouts_dir(), file, NULL);
  return cs_layout_load(path, error);
}
