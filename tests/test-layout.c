/* Card layouts: the two shipped layouts and their facts, the content hash, and the loader's
 * refusal of every kind of malformed layout with the file and the JSON path. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "layout.h"
#include "testutil.h"

/* ---- helpers ---- */

static char *make_tmp_dir(void) {
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("cs-layout-XXXXXX", &error);
  g_assert_no_error(error);
  return dir;
}

static void write_file(const char *dir, const char *name, const char *text) {
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_set_contents(path, text, -1, &error));
  g_assert_no_error(error);
}

static char *read_src(const char *relative) {
  g_autofree char *path = testutil_src(relative);
  char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, &error));
  g_assert_no_error(error);
  return text;
}

static cs_layout_t *load_named(const char *name) {
  g_autoptr(GError) error = NULL;
  cs_layout_t *l = cs_layout_load_named(name, &error);
  g_assert_no_error(error);
  g_assert_nonnull(l);
  return l;
}

static gboolean is_lower_hex64(const char *s) {
  if (s == NULL || strlen(s) != 64)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isdigit(*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

/* Sets a member below root by a dotted path whose numeric parts index arrays
 * ("sides.0.elements.1.colour"); value is a JSON literal, NULL removes the member, and a last
 * part "+" appends value to the array the path names ("sides.0.elements.+"). */
static void edit(JsonNode *root, const char *dotted, const char *value) {
  g_auto(GStrv) parts = g_strsplit(dotted, ".", -1);
  guint n = g_strv_length(parts);
  JsonNode *node = root;
  for (guint i = 0; i + 1 < n; i++) {
    char *end = NULL;
    guint64 index = g_ascii_strtoull(parts[i], &end, 10);
    if (end != parts[i] && *end == 0) {
      g_assert_true(JSON_NODE_HOLDS_ARRAY(node));
      node = json_array_get_element(json_node_get_array(node), (guint)index);
    } else {
      g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
      node = json_object_get_member(json_node_get_object(node), parts[i]);
    }
    g_assert_nonnull(node);
  }
  const char *last = parts[n - 1];
  if (g_str_equal(last, "+")) {
    g_assert_true(JSON_NODE_HOLDS_ARRAY(node));
    g_assert_nonnull(value);
    json_array_add_element(json_node_get_array(node), testutil_parse(value));
    return;
  }
  g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
  JsonObject *o = json_node_get_object(node);
  if (value == NULL)
    json_object_remove_member(o, last);
  else
    json_object_set_member(o, last, testutil_parse(value));
}

/* A small valid layout: one card side with a background and one field. */
static const char minimal[] =
    "{\"format\": \"cardspool-layout/1\", \"name\": \"mini\", \"version\": \"1\","
    " \"certificate_type\": \"special_operation\","
    " \"colours\": {\"ink\": \"#102030\"},"
    " \"sides\": [{\"name\": \"front\", \"kind\": \"card\", \"elements\": ["
    "   {\"type\": \"background\", \"fill\": \"#ffffff\"},"
    "   {\"type\": \"field\", \"field\": \"name\", \"x\": 10, \"y\": 10, \"w\": 30, \"h\": 5,"
    "    \"colour\": \"@ink\"}]}]}";

/* Writes text as mini.json in a new temp dir and loads it. */
static cs_layout_t *load_text(const char *text, char **dir_out, GError **error) {
  char *dir = make_tmp_dir();
  write_file(dir, "mini.json", text);
  g_autofree char *path = g_build_filename(dir, "mini.json", NULL);
  cs_layout_t *l = cs_layout_load(path, error);
  if (dir_out)
    *dir_out = dir;
  else {
    testutil_remove_dir(dir);
    g_free(dir);
  }
  return l;
}

static char *edited_minimal(const char *const *edits) {
  g_autoptr(JsonNode) root = testutil_parse(minimal);
  for (guint i = 0; edits && edits[i]; i += 2)
    edit(root, edits[i], edits[i + 1]);
  return testutil_to_string(root);
}

/* ---- the shipped layouts ---- */

typedef struct {
  const char *name;
  cs_cert_type_t type;
  const char *type_code;
  const char *front_fields[12]; /* the facts sheet's holder fields, NULL-terminated */
  const char *not_on_front[4];  /* fields the certificate does not have */
} shipped_t;

static const shipped_t shipped[] = {
    {"special-operation",
     CS_CERT_SPECIAL_OPERATION,
     "special_operation",
     {"name", "sex", "certificate_number", "category", "item", "first_issue_date", "validity",
      "review_due", "issuing_authority", NULL},
     {"personnel_type", "industry", NULL}},
    {"safety-competence",
     CS_CERT_SAFETY_COMPETENCE,
     "safety_competence",
     {"name", "sex", "certificate_number", "personnel_type", "industry", "first_issue_date",
      "validity", "issuing_authority", NULL},
     {"category", "item", "review_due", NULL}},
};

static void test_shipped_loads(gconstpointer data) {
  const shipped_t *t = data;
  g_autoptr(cs_layout_t) l = load_named(t->name);
  g_assert_cmpstr(l->name, ==, t->name);
  g_assert_cmpint(l->type, ==, t->type);
  g_assert_cmpstr(cs_cert_type_to_code(l->type), ==, t->type_code);
  g_assert_true(g_str_has_suffix(l->path, ".json"));

  /* the version is the file's, in the form YYYY.MM-N */
  g_autofree char *rel = g_strconcat("layouts/", t->name, ".json", NULL);
  g_autofree char *text = read_src(rel);
  g_autoptr(JsonNode) root = testutil_parse(text);
  g_assert_cmpstr(l->version, ==,
                  json_object_get_string_member(json_node_get_object(root), "version"));
  g_assert_true(g_regex_match_simple("^[0-9]{4}\\.[0-9]{2}-[0-9]+$", l->version, 0, 0));
  g_assert_nonnull(l->provenance);

  /* the hash: 64 lowercase hex, the same on a second load */
  g_assert_true(is_lower_hex64(l->sha256));
  g_autoptr(cs_layout_t) again = load_named(t->name);
  g_assert_cmpstr(again->sha256, ==, l->sha256);
  gboolean has_svg = FALSE;
  for (guint i = 0; i < l->sides->len; i++) {
    const cs_side_t *s = l->sides->pdata[i];
    for (guint j = 0; j < s->elements->len; j++)
      has_svg |= ((const cs_element_t *)s->elements->pdata[j])->type == CS_EL_SVG;
  }
  if (!has_svg) { /* then it is the SHA-256 of the file alone */
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
    g_assert_cmpstr(l->sha256, ==, sum);
  }
}

static void test_shipped_sides(gconstpointer data) {
  const shipped_t *t = data;
  g_autoptr(cs_layout_t) l = load_named(t->name);
  g_assert_cmpuint(l->sides->len, ==, 4);
  const char *names[] = {"front", "back", "ecert", "paper"};
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    const cs_side_t *s = cs_layout_side(l, names[i]);
    g_assert_nonnull(s);
    g_assert_true(s == l->sides->pdata[i]);
    gboolean card = i < 2;
    g_assert_cmpint(s->is_card, ==, card);
    if (card) {
      g_assert_cmpfloat_with_epsilon(s->width, 85.60, 1e-9);
      g_assert_cmpfloat_with_epsilon(s->height, 53.98, 1e-9);
      g_assert_cmpfloat_with_epsilon(s->radius, 3.18, 1e-9);
      g_assert_cmpfloat(s->safe_margin, >, 0);
    }
  }
  const cs_side_t *paper = cs_layout_side(l, "paper");
  g_assert_cmpfloat_with_epsilon(paper->width, 210, 1e-9);
  g_assert_cmpfloat_with_epsilon(paper->height, 297, 1e-9);
  g_assert_null(cs_layout_side(l, "nope"));
}

static guint count_type(const cs_side_t *s, cs_element_type_t type) {
  guint n = 0;
  for (guint i = 0; i < s->elements->len; i++)
    n += ((const cs_element_t *)s->elements->pdata[i])->type == type;
  return n;
}

static void test_shipped_elements(gconstpointer data) {
  const shipped_t *t = data;
  g_autoptr(cs_layout_t) l = load_named(t->name);
  for (guint i = 0; i < l->sides->len; i++) {
    const cs_side_t *s = l->sides->pdata[i];
    g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint j = 0; j < s->elements->len; j++) {
      const cs_element_t *e = s->elements->pdata[j];
      if (e->type == CS_EL_FIELD) {
        g_assert_nonnull(e->field);
        if (!cs_layout_field_known(e->field))
          g_error("%s: %s: field \"%s\" is not in cs_layout_field_names()", t->name, s->name,
                  e->field);
        gboolean listed = FALSE;
        for (const char *const *f = cs_layout_field_names(); *f; f++)
          listed |= g_str_equal(*f, e->field);
        g_assert_true(listed);
      }
      if (e->id && !g_hash_table_add(ids, e->id))
        g_error("%s: %s: the id \"%s\" is used twice", t->name, s->name, e->id);
      if (e->id)
        g_assert_true(cs_side_element(s, e->id) == e);
    }
  }
  const cs_side_t *front = cs_layout_side(l, "front"), *back = cs_layout_side(l, "back");
  g_assert_cmpuint(count_type(front, CS_EL_QR), ==, 1);
  g_assert_cmpuint(count_type(back, CS_EL_QR), ==, 0);
  g_assert_cmpuint(count_type(front, CS_EL_PHOTO), ==, 1);
  /* the QR and photo sit inside the card */
  for (guint j = 0; j < front->elements->len; j++) {
    const cs_element_t *e = front->elements->pdata[j];
    if (e->type != CS_EL_QR && e->type != CS_EL_PHOTO)
      continue;
    g_assert_cmpfloat(e->x, >=, 0);
    g_assert_cmpfloat(e->y, >=, 0);
    g_assert_cmpfloat(e->x + e->w, <=, front->width);
    g_assert_cmpfloat(e->y + e->h, <=, front->height);
  }
}

/* Text and field boxes of card sides inside the safe area (safe_margin from every edge);
 * backgrounds, guilloches, rules and the header band may bleed, text may not. */
static void test_shipped_safe_area(gconstpointer data) {
  const shipped_t *t = data;
  g_autoptr(cs_layout_t) l = load_named(t->name);
  guint checked = 0;
  for (guint i = 0; i < l->sides->len; i++) {
    const cs_side_t *s = l->sides->pdata[i];
    if (!s->is_card)
      continue;
    const double m = s->safe_margin, eps = 1e-9;
    g_assert_cmpfloat(m, >=, 1.0);
    for (guint j = 0; j < s->elements->len; j++) {
      const cs_element_t *e = s->elements->pdata[j];
      if (e->type != CS_EL_TEXT && e->type != CS_EL_FIELD)
        continue;
      checked++;
      if (e->x < m - eps || e->y < m - eps || e->x + e->w > s->width - m + eps ||
          e->y + e->h > s->height - m + eps)
        g_error("%s/%s/%s: box (%g, %g)-(%g, %g) mm leaves the safe area (margin %g mm of "
                "%g x %g)",
                t->name, s->name, e->id, e->x, e->y, e->x + e->w, e->y + e->h, m, s->width,
                s->height);
    }
  }
  g_assert_cmpuint(checked, >, 20);
}

static void test_shipped_front_fields(gconstpointer data) {
  const shipped_t *t = data;
  g_autoptr(cs_layout_t) l = load_named(t->name);
  const cs_side_t *front = cs_layout_side(l, "front");
  g_autoptr(GHashTable) bound = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint j = 0; j < front->elements->len; j++) {
    const cs_element_t *e = front->elements->pdata[j];
    if (e->type == CS_EL_FIELD)
      g_hash_table_add(bound, e->field);
  }
  for (guint i = 0; t->front_fields[i]; i++) {
    if (!g_hash_table_contains(bound, t->front_fields[i]))
      g_error("%s: the front does not bind \"%s\"", t->name, t->front_fields[i]);
    /* a field's id defaults to its name */
    const cs_element_t *e = cs_side_element(front, t->front_fields[i]);
    g_assert_nonnull(e);
    g_assert_cmpint(e->type, ==, CS_EL_FIELD);
    g_assert_cmpstr(e->field, ==, t->front_fields[i]);
  }
  /* nothing but those and the card serial */
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, bound);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    gboolean listed = g_str_equal(key, "card_serial");
    for (guint i = 0; t->front_fields[i] && !listed; i++)
      listed = g_str_equal(key, t->front_fields[i]);
    if (!listed)
      g_error("%s: the front binds \"%s\", not a field of this certificate's front", t->name,
              (char *)key);
  }
  for (guint i = 0; t->not_on_front[i]; i++)
    g_assert_false(g_hash_table_contains(bound, t->not_on_front[i]));
}

static void test_hash_follows_content(void) {
  g_autofree char *text = read_src("layouts/special-operation.json");
  g_autoptr(cs_layout_t) orig = load_named("special-operation");

  /* an unchanged copy elsewhere: the same hash (of content, not of the path) */
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_layout_t) same = load_text(text, &dir, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(same->sha256, ==, orig->sha256);
  testutil_remove_dir(dir);
  g_clear_pointer(&dir, g_free);

  /* one byte of a colour value changed */
  const char *needle = "\"deep\": \"#0c3570\"";
  char *at = strstr(text, needle);
  g_assert_nonnull(at);
  at[strlen(needle) - 2] = '1'; /* #0c3570 -> #0c3571 */
  g_autoptr(cs_layout_t) changed = load_text(text, &dir, &error);
  g_assert_no_error(error);
  g_assert_nonnull(changed);
  g_assert_true(is_lower_hex64(changed->sha256));
  g_assert_cmpstr(changed->sha256, !=, orig->sha256);
  g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
  g_assert_cmpstr(changed->sha256, ==, sum);
  /* and the new colour is what the header now starts with */
  const cs_element_t *header = cs_side_element(cs_layout_side(changed, "front"), "header");
  g_assert_nonnull(header);
  g_assert_cmpint(header->fill.n_stops, >=, 2);
  g_assert_cmpfloat_with_epsilon(header->fill.colours[0].b, 0x71 / 255.0, 1e-9);
  testutil_remove_dir(dir);
}

/* ---- the minimal layout and referenced files ---- */

static void test_minimal_loads(void) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_layout_t) l = load_text(minimal, NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(l);
  g_assert_cmpstr(l->name, ==, "mini");
  g_assert_cmpint(l->type, ==, CS_CERT_SPECIAL_OPERATION);
  const cs_side_t *s = cs_layout_side(l, "front");
  g_assert_nonnull(s);
  g_assert_true(s->is_card);
  g_assert_cmpuint(s->elements->len, ==, 2);
  const cs_element_t *f = cs_side_element(s, "name");
  g_assert_nonnull(f);
  g_assert_cmpstr(f->field, ==, "name");
  g_assert_cmpstr(f->font_role, ==, "song");
  g_assert_cmpfloat_with_epsilon(f->fill.colours[0].r, 0x10 / 255.0, 1e-9);
  g_assert_cmpfloat_with_epsilon(f->fill.colours[0].g, 0x20 / 255.0, 1e-9);
  g_assert_cmpfloat_with_epsilon(f->fill.colours[0].b, 0x30 / 255.0, 1e-9);
  g_assert_cmpfloat_with_epsilon(f->fill.colours[0].a, 1, 1e-9);
}

/* An SVG next to the layout is read, and its content is part of the hash. */
static void test_svg_in_hash(void) {
  const char *edits[] = {"sides.0.elements.+",
                         "{\"type\": \"svg\", \"id\": \"art\", \"file\": \"art.svg\", \"x\": 5,"
                         " \"y\": 5, \"w\": 10, \"h\": 10}",
                         NULL};
  g_autofree char *text = edited_minimal(edits);
  char *hashes[2] = {NULL, NULL};
  for (guint i = 0; i < 2; i++) {
    char *dir = make_tmp_dir();
    write_file(dir, "mini.json", text);
    write_file(dir, "art.svg",
               i == 0 ? "<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>"
                      : "<svg xmlns='http://www.w3.org/2000/svg' width='2' height='1'/>");
    g_autofree char *path = g_build_filename(dir, "mini.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_layout_t) l = cs_layout_load(path, &error);
    g_assert_no_error(error);
    const cs_element_t *e = cs_side_element(cs_layout_side(l, "front"), "art");
    g_assert_nonnull(e);
    g_assert_nonnull(e->svg_data);
    g_assert_cmpuint(g_bytes_get_size(e->svg_data), >, 0);
    hashes[i] = g_strdup(l->sha256);
    testutil_remove_dir(dir);
    g_free(dir);
  }
  g_assert_cmpstr(hashes[0], !=, hashes[1]);
  g_free(hashes[0]);
  g_free(hashes[1]);
}

/* ---- broken layouts ---- */

typedef struct {
  const char *name;
  const char *text;      /* the whole file, or NULL: the minimal layout with edits */
  const char *edits[7];  /* path, value pairs for edit(), NULL-terminated */
  int code;
  const char *expect[3]; /* phrases the message contains */
} broken_t;

#define EL "sides.0.elements.1."
#define SIDE_ADD "sides.+"
#define PAGE(n) "{\"name\": \"" n "\", \"kind\": \"page\", \"width\": 100, \"height\": 100, "

static const broken_t broken[] = {
    {"not-json", "{\"format\": \"cardspool-layout/1\", ", {NULL}, CS_ERROR_LAYOUT,
     {"mini.json: $: "}},
    {"root-array", "[]", {NULL}, CS_ERROR_LAYOUT, {"mini.json: $: ", "JSON object"}},
    {"root-string", "\"layout\"", {NULL}, CS_ERROR_LAYOUT, {"$: ", "JSON object"}},
    {"empty-file", "", {NULL}, CS_ERROR_LAYOUT, {"mini.json: $"}},
    {"format-wrong", NULL, {"format", "\"cardspool-layout/2\""}, CS_ERROR_LAYOUT,
     {"$.format", "cardspool-layout/1"}},
    {"format-missing", NULL, {"format", NULL}, CS_ERROR_LAYOUT, {"$: ", "\"format\" is required"}},
    {"name-missing", NULL, {"name", NULL}, CS_ERROR_LAYOUT, {"$: ", "\"name\" is required"}},
    {"name-empty", NULL, {"name", "\"\""}, CS_ERROR_LAYOUT,
     {"$: ", "\"name\" must be a non-empty"}},
    {"version-missing", NULL, {"version", NULL}, CS_ERROR_LAYOUT,
     {"$: ", "\"version\" is required"}},
    {"version-number", NULL, {"version", "1"}, CS_ERROR_LAYOUT, {"$: ", "\"version\" must be a"}},
    {"type-missing", NULL, {"certificate_type", NULL}, CS_ERROR_LAYOUT,
     {"$: ", "\"certificate_type\" is required"}},
    {"type-unknown", NULL, {"certificate_type", "\"forklift\""}, CS_ERROR_LAYOUT,
     {"$.certificate_type", "forklift"}},
    {"top-unknown-member", NULL, {"colors", "{}"}, CS_ERROR_LAYOUT,
     {"$: ", "unknown member \"colors\""}},
    {"colours-not-object", NULL, {"colours", "[]"}, CS_ERROR_LAYOUT, {"$.colours"}},
    {"sides-not-array", NULL, {"sides", "{}"}, CS_ERROR_LAYOUT, {"$.sides", "array"}},
    {"sides-missing", NULL, {"sides", NULL}, CS_ERROR_LAYOUT, {"$.sides"}},
    {"side-not-object", NULL, {SIDE_ADD, "\"back\""}, CS_ERROR_LAYOUT, {"$.sides[1]", "object"}},
    {"side-kind-missing", NULL, {"sides.0.kind", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0]: ", "\"kind\" is required"}},
    {"side-kind-unknown", NULL, {"sides.0.kind", "\"poster\""}, CS_ERROR_LAYOUT,
     {"$.sides[0]: ", "\"kind\" must be one of", "poster"}},
    {"side-name-missing", NULL, {"sides.0.name", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0]: ", "\"name\" is required"}},
    {"side-unknown-member", NULL, {"sides.0.margin", "2"}, CS_ERROR_LAYOUT,
     {"$.sides[0]: ", "unknown member \"margin\""}},
    {"side-elements-missing", NULL, {"sides.0.elements", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0]: ", "\"elements\""}},
    {"page-width-missing", NULL,
     {SIDE_ADD, "{\"name\": \"ecert\", \"kind\": \"page\", \"height\": 100, \"elements\": []}"},
     CS_ERROR_LAYOUT, {"$.sides[1]: ", "\"width\" is required"}},
    {"page-width-too-small", NULL,
     {SIDE_ADD, "{\"name\": \"ecert\", \"kind\": \"page\", \"width\": 1, \"height\": 100, "
                "\"elements\": []}"},
     CS_ERROR_LAYOUT, {"$.sides[1]: ", "\"width\" must be from"}},
    {"element-not-object", NULL, {"sides.0.elements.+", "3"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[2]: ", "object"}},
    {"element-type-missing", NULL, {EL "type", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"type\" is required"}},
    {"element-type-unknown", NULL, {EL "type", "\"circle\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"type\" must be one of", "circle"}},
    {"element-member-typo", NULL, {EL "colur", "\"#000000\"", EL "colour", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "unknown member \"colur\""}},
    {"member-of-other-type", NULL, {"sides.0.elements.0.x", "0"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[0]: ", "unknown member \"x\""}},
    {"field-unknown", NULL, {EL "field", "\"nmae\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "unknown field \"nmae\"",
      "known fields: title, name, sex, certificate_number"}},
    {"field-missing", NULL, {EL "field", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"field\" is required"}},
    {"colour-short", NULL, {EL "colour", "\"#12345\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1].colour: ", "\"#12345\" is not a colour"}},
    {"colour-not-hex", NULL, {EL "colour", "\"#12345g\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1].colour: ", "#12345g"}},
    {"colour-name-unknown", NULL, {EL "colour", "\"@nope\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1].colour: ", "no colour named \"nope\""}},
    {"colour-named-bad", NULL, {"colours.ink", "\"blue\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1].colour: ", "@ink"}},
    {"colour-number", NULL, {EL "colour", "255"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1].colour: "}},
    {"gradient-one-stop", NULL,
     {"sides.0.elements.0.fill", "{\"gradient\": {\"stops\": [[0, \"#ffffff\"]]}}"},
     CS_ERROR_LAYOUT,
     {"$.sides[0].elements[0].fill.gradient: ", "\"stops\""}},
    {"gradient-decreasing", NULL,
     {"sides.0.elements.0.fill",
      "{\"gradient\": {\"stops\": [[0, \"#ffffff\"], [0.6, \"#eeeeee\"], [0.4, \"#000000\"]]}}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[0].fill.gradient.stops[2]: ", "offsets must rise"}},
    {"gradient-offset-over-1", NULL,
     {"sides.0.elements.0.fill",
      "{\"gradient\": {\"stops\": [[0, \"#ffffff\"], [1.5, \"#000000\"]]}}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[0].fill.gradient.stops[1]: "}},
    {"gradient-stop-colour-bad", NULL,
     {"sides.0.elements.0.fill", "{\"gradient\": {\"stops\": [[0, \"#ffffff\"], [1, \"#0000\"]]}}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[0].fill.gradient.stops[1]: ", "#0000"}},
    {"gradient-unknown-member", NULL,
     {"sides.0.elements.0.fill",
      "{\"gradient\": {\"angel\": 3, \"stops\": [[0, \"#ffffff\"], [1, \"#000000\"]]}}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[0].fill.gradient: ", "unknown member \"angel\""}},
    {"background-fill-missing", NULL, {"sides.0.elements.0.fill", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[0]: ", "\"fill\" is required"}},
    {"box-past-edge", NULL, {EL "x", "60", EL "w", "30"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "past the side's edge"}},
    {"box-past-bottom", NULL, {EL "y", "50", EL "h", "10"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "past the side's edge"}},
    {"box-x-outside", NULL, {EL "x", "-5"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"x\" must be from"}},
    {"box-w-missing", NULL, {EL "w", NULL}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"w\" is required"}},
    {"box-w-string", NULL, {EL "w", "\"30\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"w\" must be a number"}},
    {"size-zero", NULL, {EL "size", "0"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"size\" must be from 0.5"}},
    {"min-size-over-size", NULL, {EL "size", "8", EL "min_size", "9"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"min_size\" must be from 0.5 to 8, not 9"}},
    {"bold-not-bool", NULL, {EL "bold", "1"}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"bold\" must be true or false"}},
    {"align-unknown", NULL, {EL "align", "\"justify\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"align\" must be one of", "justify"}},
    {"id-duplicate", NULL,
     {"sides.0.elements.+",
      "{\"type\": \"text\", \"id\": \"name\", \"text\": \"x\", \"x\": 5, \"y\": 20, \"w\": 10, "
      "\"h\": 5}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "the id \"name\" is used twice"}},
    {"side-duplicate", NULL,
     {SIDE_ADD, "{\"name\": \"front\", \"kind\": \"card\", \"elements\": []}"},
     CS_ERROR_LAYOUT, {"$.sides[1]: ", "the side \"front\" appears twice"}},
    {"include-missing-side", NULL,
     {SIDE_ADD, PAGE("paper") "\"elements\": [{\"type\": \"include\", \"side\": \"ecert\", "
                "\"x\": 0, \"y\": 0}]}"},
     CS_ERROR_LAYOUT, {"$.sides[1].elements[0]: ", "no side named \"ecert\""}},
    {"include-including-side", NULL,
     {SIDE_ADD, PAGE("a") "\"elements\": [{\"type\": \"include\", \"side\": \"front\", \"x\": 0, "
                "\"y\": 0}]}",
      SIDE_ADD, PAGE("b") "\"elements\": [{\"type\": \"include\", \"side\": \"a\", \"x\": 0, "
                "\"y\": 0}]}"},
     CS_ERROR_LAYOUT, {"$.sides[2].elements[0]: ", "the side \"a\" includes another side"}},
    {"include-itself", NULL,
     {SIDE_ADD, PAGE("a") "\"elements\": [{\"type\": \"include\", \"side\": \"a\", \"x\": 0, "
                "\"y\": 0}]}"},
     CS_ERROR_LAYOUT, {"$.sides[1].elements[0]: ", "the side \"a\" includes another side"}},
    {"svg-dotdot", NULL,
     {"sides.0.elements.+",
      "{\"type\": \"svg\", \"file\": \"../art.svg\", \"x\": 5, \"y\": 5, \"w\": 10, \"h\": 10}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "inside the layouts folder"}},
    {"svg-absolute", NULL,
     {"sides.0.elements.+",
      "{\"type\": \"svg\", \"file\": \"/etc/passwd\", \"x\": 5, \"y\": 5, \"w\": 10, \"h\": 10}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "inside the layouts folder"}},
    {"svg-missing", NULL,
     {"sides.0.elements.+",
      "{\"type\": \"svg\", \"file\": \"art/none.svg\", \"x\": 5, \"y\": 5, \"w\": 10, \"h\": 10}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "none.svg"}},
    {"font-comic", NULL, {EL "font", "\"comic\""}, CS_ERROR_LAYOUT,
     {"$.sides[0].elements[1]: ", "\"font\" must be \"song\" or \"hei\"", "comic"}},
    {"qr-ecc-unknown", NULL,
     {"sides.0.elements.+", "{\"type\": \"qr\", \"x\": 60, \"y\": 30, \"w\": 16, \"h\": 16, "
                            "\"ecc\": \"X\"}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "\"ecc\" must be one of"}},
    /* lines are filled ribbons: one bent tighter than half its width would fold over */
    {"guilloche-rosette-too-tight", NULL,
     {"sides.0.elements.+",
      "{\"type\": \"guilloche\", \"style\": \"rosette\", \"stroke\": \"#00000040\", "
      "\"x\": 10, \"y\": 10, \"w\": 30, \"h\": 30, \"count\": 6, \"period\": 40, "
      "\"amplitude\": 4, \"stroke_width\": 0.4}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "bend tighter", "half their width (0.200 mm)"}},
    /* deep lobes: the bend is sharper than any sample of the curve sees (true radius 0.0029
     * mm; the samples alone measured 0.017, which would have passed) */
    {"guilloche-rosette-sharp-between-samples", NULL,
     {"sides.0.elements.+",
      "{\"type\": \"guilloche\", \"style\": \"rosette\", \"stroke\": \"#00000040\", "
      "\"x\": 10, \"y\": 10, \"w\": 30, \"h\": 30, \"count\": 5, \"period\": 39, "
      "\"amplitude\": 4.5, \"stroke_width\": 0.02}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "bend tighter (radius 0.003 mm)"}},
    {"guilloche-waves-too-tight", NULL,
     {"sides.0.elements.+",
      "{\"type\": \"guilloche\", \"stroke\": \"#00000040\", \"amplitude\": 6, "
      "\"period\": 1, \"stroke_width\": 0.06}"},
     CS_ERROR_LAYOUT, {"$.sides[0].elements[2]: ", "bend tighter", "\"stroke_width\""}},
};

static void test_broken(gconstpointer data) {
  const broken_t *c = data;
  g_autofree char *text = c->text ? g_strdup(c->text) : edited_minimal(c->edits);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_layout_t) l = load_text(text, NULL, &error);
  g_assert_null(l);
  g_assert_error(error, CS_ERROR, c->code);
  g_test_message("%s", error->message);
  g_assert_true(g_str_has_prefix(error->message, "mini.json: "));
  for (guint i = 0; i < G_N_ELEMENTS(c->expect) && c->expect[i]; i++)
    if (!strstr(error->message, c->expect[i]))
      g_error("message \"%s\" lacks \"%s\"", error->message, c->expect[i]);
}

static void test_missing_file(void) {
  g_autofree char *dir = make_tmp_dir();
  g_autofree char *path = g_build_filename(dir, "absent.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_layout_t) l = cs_layout_load(path, &error);
  g_assert_null(l);
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "absent.json"));
  g_clear_error(&error);
  g_autoptr(cs_layout_t) named = cs_layout_load_named("no-such-layout", &error);
  g_assert_null(named);
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "no-such-layout.json"));
  testutil_remove_dir(dir);
}

/* A gradient stop whose colour is an object must be refused, not crash. */
static void test_stop_colour_object(void) {
  if (g_test_subprocess()) {
    const char *edits[] = {"sides.0.elements.0.fill",
                           "{\"gradient\": {\"stops\": [[0, {}], [1, \"#000000\"]]}}", NULL};
    g_autofree char *text = edited_minimal(edits);
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_layout_t) l = load_text(text, NULL, &error);
    g_assert_null(l);
    g_assert_error(error, CS_ERROR, CS_ERROR_LAYOUT);
    g_assert_nonnull(strstr(error->message, "$.sides[0].elements[0].fill.gradient.stops[0]"));
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
}

/* A gradient offset that is not a number must be refused, not read as 0. */
static void test_stop_offset_string(void) {
  const char *edits[] = {"sides.0.elements.0.fill",
                         "{\"gradient\": {\"stops\": [[\"0.5\", \"#ffffff\"], [1, \"#000000\"]]}}",
                         NULL};
  g_autofree char *text = edited_minimal(edits);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_layout_t) l = load_text(text, NULL, &error);
  g_assert_null(l);
  g_assert_error(error, CS_ERROR, CS_ERROR_LAYOUT);
  g_assert_nonnull(strstr(error->message, "$.sides[0].elements[0].fill.gradient.stops[0]"));
}

/* ---- names ---- */

static void test_load_named_refuses(void) {
  const char *names[] = {"../layouts/special-operation", "layouts/special-operation",
                         "/etc/passwd", ".special-operation", "..", ".", "a/b"};
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_layout_t) l = cs_layout_load_named(names[i], &error);
    g_assert_null(l);
    g_assert_error(error, CS_ERROR, CS_ERROR_LAYOUT);
    g_assert_nonnull(strstr(error->message, "not a layout name"));
    g_assert_nonnull(strstr(error->message, names[i]));
  }
}

static void test_default_name(void) {
  g_assert_cmpstr(cs_layout_default_name(CS_CERT_SPECIAL_OPERATION), ==, "special-operation");
  g_assert_cmpstr(cs_layout_default_name(CS_CERT_SAFETY_COMPETENCE), ==, "safety-competence");
  g_assert_null(cs_layout_default_name(CS_CERT_UNKNOWN));
  const cs_cert_type_t types[] = {CS_CERT_SPECIAL_OPERATION, CS_CERT_SAFETY_COMPETENCE};
  for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
    g_autoptr(cs_layout_t) l = load_named(cs_layout_default_name(types[i]));
    g_assert_cmpint(l->type, ==, types[i]);
  }
}

static void test_field_names(void) {
  const char *const *names = cs_layout_field_names();
  g_assert_nonnull(names);
  guint n = 0;
  for (; names[n]; n++) {
    g_assert_true(cs_layout_field_known(names[n]));
    for (guint j = 0; j < n; j++)
      g_assert_cmpstr(names[j], !=, names[n]);
  }
  g_assert_cmpuint(n, >=, 20);
  g_assert_true(cs_layout_field_known("review_due"));
  g_assert_true(cs_layout_field_known("review.4.done"));
  g_assert_false(cs_layout_field_known("nmae"));
  g_assert_false(cs_layout_field_known(""));
  g_assert_false(cs_layout_field_known("review.5.due"));
}

/* cs_layout_load_data: the layout cs_layout_load gives, read only up to length; errors under
 * the name given. */
static void test_load_data(void) {
  for (guint i = 0; i < G_N_ELEMENTS(shipped); i++) {
    g_autoptr(cs_layout_t) from_file = load_named(shipped[i].name);
    g_autofree char *rel = g_strconcat("layouts/", shipped[i].name, ".json", NULL);
    g_autofree char *text = read_src(rel);
    g_autofree char *padded = g_strconcat(text, "} trailing bytes past length", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_layout_t) l =
        cs_layout_load_data(padded, strlen(text), "in-memory.json", NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(l);
    g_assert_null(l->path);
    g_assert_cmpstr(l->name, ==, from_file->name);
    g_assert_cmpstr(l->sha256, ==, from_file->sha256);
    g_assert_cmpuint(l->sides->len, ==, from_file->sides->len);
  }
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_layout_load_data("{\"format\": 1}", 13, "in-memory.json", NULL, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_LAYOUT);
  g_assert_true(g_str_has_prefix(error->message, "in-memory.json: $"));
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS(shipped); i++) {
    const char *n = shipped[i].name;
    g_autofree char *p1 = g_strdup_printf("/layout/shipped/%s/loads", n);
    g_autofree char *p2 = g_strdup_printf("/layout/shipped/%s/sides", n);
    g_autofree char *p3 = g_strdup_printf("/layout/shipped/%s/elements", n);
    g_autofree char *p4 = g_strdup_printf("/layout/shipped/%s/safe-area", n);
    g_autofree char *p5 = g_strdup_printf("/layout/shipped/%s/front-fields", n);
    g_test_add_data_func(p1, &shipped[i], test_shipped_loads);
    g_test_add_data_func(p2, &shipped[i], test_shipped_sides);
    g_test_add_data_func(p3, &shipped[i], test_shipped_elements);
    g_test_add_data_func(p4, &shipped[i], test_shipped_safe_area);
    g_test_add_data_func(p5, &shipped[i], test_shipped_front_fields);
  }
  g_test_add_func("/layout/hash-follows-content", test_hash_follows_content);
  g_test_add_func("/layout/minimal-loads", test_minimal_loads);
  g_test_add_func("/layout/svg-in-hash", test_svg_in_hash);
  for (guint i = 0; i < G_N_ELEMENTS(broken); i++) {
    g_autofree char *p = g_strdup_printf("/layout/broken/%s", broken[i].name);
    g_test_add_data_func(p, &broken[i], test_broken);
  }
  g_test_add_func("/layout/broken/missing-file", test_missing_file);
  g_test_add_func("/layout/broken/stop-colour-object", test_stop_colour_object);
  g_test_add_func("/layout/broken/stop-offset-string", test_stop_offset_string);
  g_test_add_func("/layout/load-named-refuses", test_load_named_refuses);
  g_test_add_func("/layout/default-name", test_default_name);
  g_test_add_func("/layout/field-names", test_field_names);
  g_test_add_func("/layout/load-data", test_load_data);
  return g_test_run();
}
