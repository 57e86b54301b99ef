#include "catalogue.h"

#include <json-glib/json-glib.h>

#include "config.h"
#include "error.h"
#include "io.h"

typedef struct {
  cs_catalogue_entry_t entry;
  GPtrArray *items; /* of cs_catalogue_entry_t*, owned */
} category_t;

struct cs_catalogue {
  GStringChunk *strings;
  cs_cert_type_info_t types[3]; /* indexed by cs_cert_type_t */
  GPtrArray *categories;        /* of category_t* */
  GHashTable *items;            /* item code -> category_t* */
  GPtrArray *personnel_types;   /* of cs_catalogue_entry_t* */
  GPtrArray *industries;
};

static const struct {
  const char *name;
  cs_type_field_t flag;
} field_names[] = {
    {"category", CS_FIELD_CATEGORY},         {"item", CS_FIELD_ITEM},
    {"review_due", CS_FIELD_REVIEW_DUE},     {"personnel_type", CS_FIELD_PERSONNEL_TYPE},
    {"industry", CS_FIELD_INDUSTRY},
};

const char *cs_data_dir(void) {
  return cs_resource_dir("CARDSPOOL_DATADIR", CS_DATADIR, CS_SOURCE_DATADIR, "operations.json");
}

cs_cert_type_t cs_cert_type_from_code(const char *code) {
  if (g_strcmp0(code, "special_operation") == 0)
    return CS_CERT_SPECIAL_OPERATION;
  if (g_strcmp0(code, "safety_competence") == 0)
    return CS_CERT_SAFETY_COMPETENCE;
  return CS_CERT_UNKNOWN;
}

const char *cs_cert_type_to_code(cs_cert_type_t type) {
  switch (type) {
  case CS_CERT_SPECIAL_OPERATION:
    return "special_operation";
  case CS_CERT_SAFETY_COMPETENCE:
    return "safety_competence";
  case CS_CERT_UNKNOWN:
    break;
  }
  return NULL;
}

static void category_free(gpointer data) {
  category_t *c = data;
  g_ptr_array_unref(c->items);
  g_free(c);
}

void cs_catalogue_free(cs_catalogue_t *cat) {
  if (cat == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS(cat->types); i++)
    if (cat->types[i].number_pattern)
      g_regex_unref(cat->types[i].number_pattern);
  g_clear_pointer(&cat->categories, g_ptr_array_unref);
  g_clear_pointer(&cat->items, g_hash_table_unref);
  g_clear_pointer(&cat->personnel_types, g_ptr_array_unref);
  g_clear_pointer(&cat->industries, g_ptr_array_unref);
  g_string_chunk_free(cat->strings);
  g_free(cat);
}

/* A data-file loader that names the file and member of the first thing wrong. */
typedef struct {
  const char *file;
  GError **error;
  cs_catalogue_t *cat;
} loader_t;

static gboolean fail(loader_t *l, const char *where, const char *what) {
  g_set_error(l->error, CS_ERROR, CS_ERROR_DATA, "%s: %s: %s", l->file, where, what);
  return FALSE;
}

static JsonObject *load_root(loader_t *l, const char *dir, const char *name, JsonParser *parser) {
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) local = NULL;
  l->file = name;
  if (!json_parser_load_from_file(parser, path, &local)) {
    g_set_error(l->error, CS_ERROR, CS_ERROR_DATA, "%s: %s", path, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
    fail(l, "$", "not a JSON object");
    return NULL;
  }
  return json_node_get_object(root);
}

static JsonArray *get_array(loader_t *l, JsonObject *o, const char *member, const char *where) {
  JsonNode *n = json_object_get_member(o, member);
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY(n)) {
    g_autofree char *w = g_strdup_printf("%s.%s", where, member);
    fail(l, w, "missing or not an array");
    return NULL;
  }
  return json_node_get_array(n);
}

static const char *get_string(loader_t *l, JsonObject *o, const char *member, const char *where) {
  JsonNode *n = json_object_get_member(o, member);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
      *json_node_get_string(n) == 0) {
    g_autofree char *w = g_strdup_printf("%s.%s", where, member);
    fail(l, w, "missing, empty or not a string");
    return NULL;
  }
  return g_string_chunk_insert_const(l->cat->strings, json_node_get_string(n));
}

static gboolean get_int(loader_t *l, JsonObject *o, const char *member, const char *where,
                        int min, int max, int *out) {
  JsonNode *n = json_object_get_member(o, member);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64 ||
      json_node_get_int(n) < min || json_node_get_int(n) > max) {
    g_autofree char *w = g_strdup_printf("%s.%s", where, member);
    g_autofree char *what = g_strdup_printf("missing or not an integer from %d to %d", min, max);
    return fail(l, w, what);
  }
  *out = (int)json_node_get_int(n);
  return TRUE;
}

/* code/name objects, codes unique within the list */
static GPtrArray *load_entries(loader_t *l, JsonArray *arr, const char *where) {
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length(arr); i++) {
    g_autofree char *w = g_strdup_printf("%s[%u]", where, i);
    JsonNode *n = json_array_get_element(arr, i);
    if (!JSON_NODE_HOLDS_OBJECT(n)) {
      fail(l, w, "not an object");
      return NULL;
    }
    JsonObject *o = json_node_get_object(n);
    cs_catalogue_entry_t *e = g_new0(cs_catalogue_entry_t, 1);
    g_ptr_array_add(out, e);
    if (!(e->code = get_string(l, o, "code", w)) || !(e->name = get_string(l, o, "name", w)))
      return NULL;
    if (!g_hash_table_add(seen, (gpointer)e->code)) {
      fail(l, w, "duplicate code");
      return NULL;
    }
  }
  return g_steal_pointer(&out);
}

static gboolean load_types(loader_t *l, const char *dir) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *root = load_root(l, dir, "certificate-types.json", parser);
  if (root == NULL)
    return FALSE;
  JsonArray *arr = get_array(l, root, "types", "$");
  if (arr == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length(arr); i++) {
    g_autofree char *w = g_strdup_printf("$.types[%u]", i);
    JsonNode *n = json_array_get_element(arr, i);
    if (!JSON_NODE_HOLDS_OBJECT(n))
      return fail(l, w, "not an object");
    JsonObject *o = json_node_get_object(n);
    const char *code = get_string(l, o, "code", w);
    if (code == NULL)
      return FALSE;
    cs_cert_type_t type = cs_cert_type_from_code(code);
    if (type == CS_CERT_UNKNOWN)
      return fail(l, w, "unknown certificate type code");
    cs_cert_type_info_t *t = &l->cat->types[type];
    if (t->code != NULL)
      return fail(l, w, "certificate type listed twice");
    t->type = type;
    t->code = code;
    if (!(t->title = get_string(l, o, "title", w)) ||
        !(t->short_title = get_string(l, o, "short_title", w)) ||
        !get_int(l, o, "validity_years", w, 1, 30, &t->validity_years) ||
        !get_int(l, o, "review_years", w, 0, 30, &t->review_years) ||
        !get_int(l, o, "extended_review_years", w, 0, 30, &t->extended_review_years) ||
        !get_int(l, o, "min_age_at_first_issue", w, 0, 100, &t->min_age_at_first_issue))
      return FALSE;
    const char *rule = get_string(l, o, "number_rule", w);
    if (rule == NULL)
      return FALSE;
    if (g_str_equal(rule, "T+id_number")) {
      t->number_rule = CS_NUMBER_T_PLUS_ID;
    } else if (g_str_equal(rule, "pattern")) {
      t->number_rule = CS_NUMBER_PATTERN;
      if (!(t->number_pattern_text = get_string(l, o, "number_pattern", w)))
        return FALSE;
      g_autoptr(GError) re_error = NULL;
      t->number_pattern = g_regex_new(t->number_pattern_text, G_REGEX_OPTIMIZE, 0, &re_error);
      if (t->number_pattern == NULL)
        return fail(l, w, re_error->message);
    } else {
      return fail(l, w, "number_rule must be \"T+id_number\" or \"pattern\"");
    }
    JsonArray *fields = get_array(l, o, "fields", w);
    if (fields == NULL)
      return FALSE;
    for (guint j = 0; j < json_array_get_length(fields); j++) {
      const char *name = json_array_get_string_element(fields, j);
      guint flag = 0;
      for (guint k = 0; name && k < G_N_ELEMENTS(field_names); k++)
        if (g_str_equal(name, field_names[k].name))
          flag = field_names[k].flag;
      if (flag == 0)
        return fail(l, w, "fields: unknown field name");
      t->fields |= flag;
    }
    if ((t->review_years > 0) != ((t->fields & CS_FIELD_REVIEW_DUE) != 0))
      return fail(l, w, "review_years > 0 exactly when \"review_due\" is among the fields");
  }
  for (int type = CS_CERT_SPECIAL_OPERATION; type <= CS_CERT_SAFETY_COMPETENCE; type++)
    if (l->cat->types[type].code == NULL)
      return fail(l, "$.types", "a certificate type is missing");
  return TRUE;
}

static gboolean load_operations(loader_t *l, const char *dir) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *root = load_root(l, dir, "operations.json", parser);
  if (root == NULL)
    return FALSE;
  JsonArray *arr = get_array(l, root, "categories", "$");
  if (arr == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length(arr); i++) {
    g_autofree char *w = g_strdup_printf("$.categories[%u]", i);
    JsonNode *n = json_array_get_element(arr, i);
    if (!JSON_NODE_HOLDS_OBJECT(n))
      return fail(l, w, "not an object");
    JsonObject *o = json_node_get_object(n);
    category_t *c = g_new0(category_t, 1);
    c->items = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(l->cat->categories, c);
    if (!(c->entry.code = get_string(l, o, "code", w)) ||
        !(c->entry.name = get_string(l, o, "name", w)))
      return FALSE;
    for (guint k = 0; k + 1 < l->cat->categories->len; k++)
      if (g_str_equal(((category_t *)l->cat->categories->pdata[k])->entry.code, c->entry.code))
        return fail(l, w, "duplicate category code");
    JsonArray *items = get_array(l, o, "items", w);
    g_autofree char *wi = g_strdup_printf("%s.items", w);
    GPtrArray *entries = items ? load_entries(l, items, wi) : NULL;
    if (entries == NULL)
      return FALSE;
    g_ptr_array_extend_and_steal(c->items, entries);
    for (guint k = 0; k < c->items->len; k++) {
      cs_catalogue_entry_t *e = c->items->pdata[k];
      if (!g_hash_table_insert(l->cat->items, (gpointer)e->code, c))
        return fail(l, wi, "an item code appears in two categories");
    }
  }
  return TRUE;
}

static gboolean load_list(loader_t *l, const char *dir, const char *file, const char *member,
                          GPtrArray **out) {
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *root = load_root(l, dir, file, parser);
  if (root == NULL)
    return FALSE;
  JsonArray *arr = get_array(l, root, member, "$");
  g_autofree char *w = g_strdup_printf("$.%s", member);
  return arr != NULL && (*out = load_entries(l, arr, w)) != NULL;
}

cs_catalogue_t *cs_catalogue_load(const char *dir, GError **error) {
  g_autoptr(cs_catalogue_t) cat = g_new0(cs_catalogue_t, 1);
  cat->strings = g_string_chunk_new(4096);
  cat->categories = g_ptr_array_new_with_free_func(category_free);
  cat->items = g_hash_table_new(g_str_hash, g_str_equal);
  loader_t l = {NULL, error, cat};
  if (!load_types(&l, dir) || !load_operations(&l, dir) ||
      !load_list(&l, dir, "personnel-types.json", "personnel_types", &cat->personnel_types) ||
      !load_list(&l, dir, "industries.json", "industries", &cat->industries))
    return NULL;
  return g_steal_pointer(&cat);
}

cs_catalogue_t *cs_catalogue_load_default(GError **error) {
  return cs_catalogue_load(cs_data_dir(), error);
}

const cs_cert_type_info_t *cs_catalogue_type(const cs_catalogue_t *cat, cs_cert_type_t type) {
  if (type != CS_CERT_SPECIAL_OPERATION && type != CS_CERT_SAFETY_COMPETENCE)
    return NULL;
  return &cat->types[type];
}

guint cs_catalogue_n_categories(const cs_catalogue_t *cat) { return cat->categories->len; }

const cs_catalogue_entry_t *cs_catalogue_category(const cs_catalogue_t *cat, guint index) {
  g_return_val_if_fail(index < cat->categories->len, NULL);
  return &((category_t *)cat->categories->pdata[index])->entry;
}

static category_t *find_category(const cs_catalogue_t *cat, const char *code) {
  for (guint i = 0; code && i < cat->categories->len; i++) {
    category_t *c = cat->categories->pdata[i];
    if (g_str_equal(c->entry.code, code))
      return c;
  }
  return NULL;
}

const cs_catalogue_entry_t *cs_catalogue_find_category(const cs_catalogue_t *cat,
                                                       const char *code) {
  category_t *c = find_category(cat, code);
  return c ? &c->entry : NULL;
}

guint cs_catalogue_n_items(const cs_catalogue_t *cat, const char *category_code) {
  category_t *c = find_category(cat, category_code);
  return c ? c->items->len : 0;
}

const cs_catalogue_entry_t *cs_catalogue_item(const cs_catalogue_t *cat,
                                              const char *category_code, guint index) {
  category_t *c = find_category(cat, category_code);
  g_return_val_if_fail(c != NULL && index < c->items->len, NULL);
  return c->items->pdata[index];
}

const cs_catalogue_entry_t *cs_catalogue_find_item(const cs_catalogue_t *cat, const char *code,
                                                   const char **category_code) {
  category_t *c = code ? g_hash_table_lookup(cat->items, code) : NULL;
  if (category_code)
    *category_code = c ? c->entry.code : NULL;
  for (guint i = 0; c && i < c->items->len; i++) {
    cs_catalogue_entry_t *e = c->items->pdata[i];
    if (g_str_equal(e->code, code))
      return e;
  }
  return NULL;
}

static const cs_catalogue_entry_t *find_entry(GPtrArray *list, const char *code) {
  for (guint i = 0; code && i < list->len; i++) {
    cs_catalogue_entry_t *e = list->pdata[i];
    if (g_str_equal(e->code, code))
      return e;
  }
  return NULL;
}

const cs_catalogue_entry_t *cs_catalogue_find_personnel_type(const cs_catalogue_t *cat,
                                                             const char *code) {
  return find_entry(cat->personnel_types, code);
}

const cs_catalogue_entry_t *cs_catalogue_find_industry(const cs_catalogue_t *cat,
                                                       const char *code) {
  return find_entry(cat->industries, code);
}
