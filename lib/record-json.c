/* JSON <-> cs_record_t. Table-driven so that parser, writer and the unknown-member check
 * can never disagree about which members exist. */
#include <stddef.h>
#include <string.h>

#include "error.h"
#include "i18n.h"
#include "io.h"
#include "record.h"

typedef enum {
  K_STRING,
  K_DATE,
  K_BOOL,
  K_SERIAL,
  K_SEX,
  K_TYPE,
  K_PHOTO,
  K_REVIEWS,
} member_kind_t;

typedef struct {
  const char *name;
  member_kind_t kind;
  gsize offset;
} member_t;

#define M(name, kind) {#name, kind, offsetof(cs_record_t, name)}
/* Order here is the order written out. */
static const member_t record_members[] = {
    M(type, K_TYPE),
    M(certificate_number, K_STRING),
    M(name, K_STRING),
    M(sex, K_SEX),
    M(id_number, K_STRING),
    M(photo, K_PHOTO),
    M(category, K_STRING),
    M(item, K_STRING),
    M(personnel_type, K_STRING),
    M(industry, K_STRING),
    M(first_issue_date, K_DATE),
    M(valid_from, K_DATE),
    M(valid_until, K_DATE),
    M(review_due, K_DATE),
    M(extended_review, K_BOOL),
    M(issuing_authority, K_STRING),
    M(issuing_authority_code, K_STRING),
    M(card_serial, K_SERIAL),
    M(reviews, K_REVIEWS),
    M(old_style, K_BOOL),
    M(archive_code, K_STRING),
    M(remarks, K_STRING),
};
#undef M

static const char *const job_members[] = {"version", "reference", "record"};
static const char *const photo_members[] = {"path", "data"};
static const char *const review_members[] = {"due", "done"};

/* Levenshtein distance, capped: only used to suggest a member name for a typo. */
static guint edit_distance(const char *a, const char *b) {
  gsize la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return G_MAXUINT;
  guint prev[65], cur[65];
  for (gsize j = 0; j <= lb; j++)
    prev[j] = (guint)j;
  for (gsize i = 1; i <= la; i++) {
    cur[0] = (guint)i;
    for (gsize j = 1; j <= lb; j++) {
      guint sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      cur[j] = MIN(MIN(prev[j] + 1, cur[j - 1] + 1), sub);
    }
    memcpy(prev, cur, sizeof(guint) * (lb + 1));
  }
  return prev[lb];
}

static void report_unknown(cs_report_t *report, const char *path, const char *member,
                           const char *const *known, guint n_known) {
  const char *best = NULL;
  guint best_d = 3; /* suggest only close matches */
  for (guint i = 0; i < n_known; i++) {
    guint d = edit_distance(member, known[i]);
    if (d < best_d) {
      best_d = d;
      best = known[i];
    }
  }
  if (best)
    cs_report_add(report, path, "json.unknown_member",
                  _("unknown member \"%s\"; did you mean \"%s\"?"), member, best);
  else
    cs_report_add(report, path, "json.unknown_member", _("unknown member \"%s\""), member);
}

static const char *node_type_name(JsonNode *n) {
  if (JSON_NODE_HOLDS_NULL(n))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT(n))
    return _("an object");
  if (JSON_NODE_HOLDS_ARRAY(n))
    return _("an array");
  switch (json_node_get_value_type(n)) {
  case G_TYPE_STRING:
    return _("a string");
  case G_TYPE_BOOLEAN:
    return _("a boolean");
  default:
    return _("a number");
  }
}

static void report_type(cs_report_t *report, const char *path, const char *expected,
                        JsonNode *n) {
  cs_report_add(report, path, "json.type", _("must be %s, not %s"), expected,
                node_type_name(n));
}

static gboolean is_string(JsonNode *n) {
  return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING;
}

/* Strict: RFC 4648 alphabet, padded, no white space; g_base64_decode() skips junk silently. */
static gboolean base64_well_formed(const char *s) {
  gsize len = strlen(s), pad = 0;
  if (len == 0 || len % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = s[i];
    if (c == '=') {
      if (i < len - 2)
        return FALSE;
      pad++;
    } else if (pad > 0 || !(g_ascii_isalnum(c) || c == '+' || c == '/')) {
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean parse_date(JsonNode *n, const char *path, cs_report_t *report, cs_date_t *out) {
  if (!is_string(n)) {
    report_type(report, path, _("a date string YYYY-MM-DD"), n);
    return FALSE;
  }
  gboolean not_a_day = FALSE;
  if (cs_date_parse(json_node_get_string(n), out, &not_a_day))
    return TRUE;
  if (not_a_day)
    cs_report_add(report, path, "date.invalid", _("\"%s\" is not a day of the calendar"),
                  json_node_get_string(n));
  else
    cs_report_add(report, path, "date.format",
                  _("\"%s\" is not an ISO 8601 date of the form YYYY-MM-DD"),
                  json_node_get_string(n));
  return FALSE;
}

static void parse_photo(JsonNode *n, const char *path, cs_record_t *r, cs_report_t *report) {
  if (!JSON_NODE_HOLDS_OBJECT(n)) {
    report_type(report, path, _("an object with \"path\" or \"data\""), n);
    return;
  }
  JsonObject *o = json_node_get_object(n);
  g_autoptr(GList) names = json_object_get_members(o);
  for (GList *l = names; l; l = l->next) {
    const char *m = l->data;
    g_autofree char *p = g_strdup_printf("%s.%s", path, m);
    JsonNode *v = json_object_get_member(o, m);
    if (g_str_equal(m, "path")) {
      if (!is_string(v) || *json_node_get_string(v) == 0)
        report_type(report, p, _("a non-empty string"), v);
      else
        r->photo.path = g_strdup(json_node_get_string(v));
    } else if (g_str_equal(m, "data")) {
      if (!is_string(v)) {
        report_type(report, p, _("a base64 string"), v);
      } else if (!base64_well_formed(json_node_get_string(v))) {
        cs_report_add(report, p, "photo.base64",
                      _("is not well-formed base64 (RFC 4648, padded, no white space)"));
      } else {
        gsize len = 0;
        guchar *bytes = g_base64_decode(json_node_get_string(v), &len);
        r->photo.data = g_bytes_new_take(bytes, len);
      }
    } else {
      report_unknown(report, p, m, photo_members, G_N_ELEMENTS(photo_members));
    }
  }
  if (json_object_has_member(o, "path") && json_object_has_member(o, "data"))
    cs_report_add(report, path, "photo.ambiguous",
                  _("give either \"path\" or \"data\", not both"));
  else if (!json_object_has_member(o, "path") && !json_object_has_member(o, "data"))
    cs_report_add(report, path, "json.required", _("needs \"path\" or \"data\""));
}

static void parse_reviews(JsonNode *n, const char *path, cs_record_t *r, cs_report_t *report) {
  if (!JSON_NODE_HOLDS_ARRAY(n)) {
    report_type(report, path, _("an array"), n);
    return;
  }
  JsonArray *a = json_node_get_array(n);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    g_autofree char *pi = g_strdup_printf("%s[%u]", path, i);
    JsonNode *e = json_array_get_element(a, i);
    cs_review_t rev = {CS_DATE_UNSET, CS_DATE_UNSET};
    if (!JSON_NODE_HOLDS_OBJECT(e)) {
      report_type(report, pi, _("an object"), e);
      continue;
    }
    JsonObject *o = json_node_get_object(e);
    g_autoptr(GList) names = json_object_get_members(o);
    for (GList *l = names; l; l = l->next) {
      const char *m = l->data;
      g_autofree char *p = g_strdup_printf("%s.%s", pi, m);
      JsonNode *v = json_object_get_member(o, m);
      if (g_str_equal(m, "due"))
        parse_date(v, p, report, &rev.due);
      else if (g_str_equal(m, "done")) {
        if (!JSON_NODE_HOLDS_NULL(v))
          parse_date(v, p, report, &rev.done);
      } else
        report_unknown(report, p, m, review_members, G_N_ELEMENTS(review_members));
    }
    if (!json_object_has_member(o, "due")) {
      g_autofree char *p = g_strdup_printf("%s.due", pi);
      cs_report_add(report, p, "json.required", _("is required"));
    }
    g_array_append_val(r->reviews, rev);
  }
}

static void parse_member(const member_t *m, JsonNode *v, const char *path, cs_record_t *r,
                         cs_report_t *report) {
  gpointer field = (char *)r + m->offset;
  if (JSON_NODE_HOLDS_NULL(v))
    return; /* null is the same as absent; validation says if the member is required */
  switch (m->kind) {
  case K_STRING:
    if (!is_string(v))
      report_type(report, path, _("a string"), v);
    else
      *(char **)field = g_strdup(json_node_get_string(v));
    break;
  case K_DATE:
    parse_date(v, path, report, (cs_date_t *)field);
    break;
  case K_BOOL:
    if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_BOOLEAN)
      report_type(report, path, _("true or false"), v);
    else
      *(gboolean *)field = json_node_get_boolean(v);
    break;
  case K_SERIAL:
    if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_INT64)
      report_type(report, path, _("an integer"), v);
    else if (json_node_get_int(v) < 1 || json_node_get_int(v) > 999999999999)
      cs_report_add(report, path, "card_serial.range",
                    _("must be from 1 to 999999999999 (or absent until the spooler allocates "
                      "it)"));
    else
      r->card_serial = json_node_get_int(v);
    break;
  case K_SEX:
    if (!is_string(v))
      report_type(report, path, _("a string"), v);
    else if (g_str_equal(json_node_get_string(v), "male"))
      r->sex = CS_SEX_MALE;
    else if (g_str_equal(json_node_get_string(v), "female"))
      r->sex = CS_SEX_FEMALE;
    else
      cs_report_add(report, path, "sex.invalid", _("must be \"male\" or \"female\", not \"%s\""),
                    json_node_get_string(v));
    break;
  case K_TYPE:
    if (!is_string(v))
      report_type(report, path, _("a string"), v);
    else if ((r->type = cs_cert_type_from_code(json_node_get_string(v))) == CS_CERT_UNKNOWN)
      cs_report_add(report, path, "type.unknown",
                    _("unknown certificate type \"%s\"; use \"special_operation\" or "
                      "\"safety_competence\""),
                    json_node_get_string(v));
    break;
  case K_PHOTO:
    parse_photo(v, path, r, report);
    break;
  case K_REVIEWS:
    parse_reviews(v, path, r, report);
    break;
  }
}

cs_record_t *cs_record_from_json(JsonNode *node, const char *prefix, cs_report_t *report) {
  cs_i18n_init();
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    if (node)
      report_type(report, prefix, _("an object"), node);
    return NULL;
  }
  cs_record_t *r = cs_record_new();
  JsonObject *o = json_node_get_object(node);
  g_autoptr(GList) names = json_object_get_members(o);
  for (GList *l = names; l; l = l->next) {
    const char *name = l->data;
    g_autofree char *path = g_strdup_printf("%s.%s", prefix, name);
    const member_t *m = NULL;
    for (guint i = 0; i < G_N_ELEMENTS(record_members); i++)
      if (g_str_equal(record_members[i].name, name))
        m = &record_members[i];
    if (m == NULL) {
      const char *known[G_N_ELEMENTS(record_members)];
      for (guint i = 0; i < G_N_ELEMENTS(record_members); i++)
        known[i] = record_members[i].name;
      report_unknown(report, path, name, known, G_N_ELEMENTS(known));
      continue;
    }
    parse_member(m, json_object_get_member(o, name), path, r, report);
  }
  return r;
}

static void add_date(JsonBuilder *b, const char *name, cs_date_t d) {
  if (!cs_date_is_set(d))
    return;
  g_autofree char *s = cs_date_format(d);
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, s);
}

JsonNode *cs_record_to_json(const cs_record_t *r) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  for (guint i = 0; i < G_N_ELEMENTS(record_members); i++) {
    const member_t *m = &record_members[i];
    gconstpointer field = (const char *)r + m->offset;
    switch (m->kind) {
    case K_STRING:
      if (*(char *const *)field) {
        json_builder_set_member_name(b, m->name);
        json_builder_add_string_value(b, *(char *const *)field);
      }
      break;
    case K_DATE:
      add_date(b, m->name, *(const cs_date_t *)field);
      break;
    case K_BOOL:
      json_builder_set_member_name(b, m->name);
      json_builder_add_boolean_value(b, *(const gboolean *)field);
      break;
    case K_SERIAL:
      if (r->card_serial > 0) {
        json_builder_set_member_name(b, m->name);
        json_builder_add_int_value(b, r->card_serial);
      }
      break;
    case K_SEX:
      if (r->sex != CS_SEX_UNSET) {
        json_builder_set_member_name(b, m->name);
        json_builder_add_string_value(b, cs_sex_to_code(r->sex));
      }
      break;
    case K_TYPE:
      if (r->type != CS_CERT_UNKNOWN) {
        json_builder_set_member_name(b, m->name);
        json_builder_add_string_value(b, cs_cert_type_to_code(r->type));
      }
      break;
    case K_PHOTO:
      if (r->photo.path || r->photo.data) {
        json_builder_set_member_name(b, m->name);
        json_builder_begin_object(b);
        if (r->photo.path) {
          json_builder_set_member_name(b, "path");
          json_builder_add_string_value(b, r->photo.path);
        }
        if (r->photo.data) {
          gsize len = 0;
          const guchar *d = g_bytes_get_data(r->photo.data, &len);
          g_autofree char *enc = g_base64_encode(d, len);
          json_builder_set_member_name(b, "data");
          json_builder_add_string_value(b, enc);
        }
        json_builder_end_object(b);
      }
      break;
    case K_REVIEWS:
      if (r->reviews->len > 0) {
        json_builder_set_member_name(b, m->name);
        json_builder_begin_array(b);
        for (guint j = 0; j < r->reviews->len; j++) {
          const cs_review_t *rev = &g_array_index(r->reviews, cs_review_t, j);
          json_builder_begin_object(b);
          add_date(b, "due", rev->due);
          add_date(b, "done", rev->done);
          json_builder_end_object(b);
        }
        json_builder_end_array(b);
      }
      break;
    }
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* json-glib keeps the last of two equal member names without a word; another parser may
 * keep the first, so a duplicate is ambiguous input and an error. */
typedef struct {
  GHashTable *seen; /* "object-pointer/name" */
  GPtrArray *dups;
} dup_check_t;

static void on_object_member(JsonParser *parser, JsonObject *object, const char *name,
                             gpointer user_data) {
  dup_check_t *d = user_data;
  char *key = g_strdup_printf("%p/%s", (void *)object, name);
  if (!g_hash_table_add(d->seen, key))
    g_ptr_array_add(d->dups, g_strdup(name));
}

static void on_object_end(JsonParser *parser, JsonObject *object, gpointer user_data) {
  /* an object's address may be reused once it is freed: forget its members */
  dup_check_t *d = user_data;
  g_autofree char *prefix = g_strdup_printf("%p/", (void *)object);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, d->seen);
  while (g_hash_table_iter_next(&it, &key, NULL))
    if (g_str_has_prefix(key, prefix))
      g_hash_table_iter_remove(&it);
}

cs_job_t *cs_job_parse(const char *data, gsize length, const char *base_dir,
                       cs_report_t *report) {
  cs_i18n_init();
  if (length > CS_JOB_MAX_BYTES) {
    cs_report_add(report, "$", "json.too_large",
                  _("the document is %llu bytes; the limit is %u bytes"),
                  (unsigned long long)length, CS_JOB_MAX_BYTES);
    return NULL;
  }
  g_autoptr(JsonParser) parser = json_parser_new_immutable();
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) dups = g_ptr_array_new_with_free_func(g_free);
  dup_check_t dup = {seen, dups};
  g_signal_connect(parser, "object-member", G_CALLBACK(on_object_member), &dup);
  g_signal_connect(parser, "object-end", G_CALLBACK(on_object_end), &dup);
  if (!json_parser_load_from_data(parser, data, (gssize)length, &error)) {
    cs_report_add(report, "$", "json.syntax", _("not well-formed JSON: %s"), error->message);
    return NULL;
  }
  if (dups->len > 0) {
    for (guint i = 0; i < dups->len; i++)
      cs_report_add(report, "$", "json.duplicate_member",
                    _("the member \"%s\" appears twice in one object"),
                    (char *)dups->pdata[i]);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(parser);
  if (root == NULL) {
    cs_report_add(report, "$", "json.syntax", _("the document is empty"));
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT(root)) {
    cs_report_add(report, "$", "json.root", _("the document must be a JSON object"));
    return NULL;
  }
  cs_job_t *job = g_new0(cs_job_t, 1);
  JsonObject *o = json_node_get_object(root);
  g_autoptr(GList) names = json_object_get_members(o);
  for (GList *l = names; l; l = l->next) {
    const char *name = l->data;
    g_autofree char *path = g_strdup_printf("$.%s", name);
    JsonNode *v = json_object_get_member(o, name);
    if (g_str_equal(name, "version")) {
      if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_INT64)
        report_type(report, path, _("an integer"), v);
      else if (json_node_get_int(v) != CS_JOB_FORMAT_VERSION)
        cs_report_add(report, path, "json.version",
                      _("job format version %lld is not supported; this is version %d"),
                      (long long)json_node_get_int(v), CS_JOB_FORMAT_VERSION);
      else
        job->version = CS_JOB_FORMAT_VERSION;
    } else if (g_str_equal(name, "reference")) {
      if (!is_string(v))
        report_type(report, path, _("a string"), v);
      else
        job->reference = g_strdup(json_node_get_string(v));
    } else if (g_str_equal(name, "record")) {
      job->record = cs_record_from_json(v, path, report);
    } else {
      report_unknown(report, path, name, job_members, G_N_ELEMENTS(job_members));
    }
  }
  if (!json_object_has_member(o, "version"))
    cs_report_add(report, "$.version", "json.required", _("is required"));
  if (!json_object_has_member(o, "record"))
    cs_report_add(report, "$.record", "json.required", _("is required"));
  if (job->record == NULL)
    job->record = cs_record_new();
  job->record->base_dir = g_strdup(base_dir);
  return job;
}

cs_job_t *cs_job_load_file(const char *path, cs_report_t *report, GError **error) {
  cs_i18n_init();
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) data = cs_file_read(path, CS_JOB_MAX_BYTES, &local);
  if (data == NULL) {
    if (g_error_matches(local, CS_ERROR, CS_ERROR_TOO_LARGE)) {
      cs_report_add(report, "$", "json.too_large", "%s", local->message);
      return NULL;
    }
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  g_autofree char *dir = g_path_get_dirname(path);
  gsize len = 0;
  const char *text = g_bytes_get_data(data, &len);
  return cs_job_parse(text ? text : "", len, dir, report);
}

JsonNode *cs_job_to_json(const cs_job_t *job) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "version");
  json_builder_add_int_value(b, CS_JOB_FORMAT_VERSION);
  if (job->reference) {
    json_builder_set_member_name(b, "reference");
    json_builder_add_string_value(b, job->reference);
  }
  json_builder_set_member_name(b, "record");
  json_builder_add_value(b, cs_record_to_json(job->record));
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

char *cs_job_to_string(const cs_job_t *job) {
  g_autoptr(JsonNode) root = cs_job_to_json(job);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  json_generator_set_indent(gen, 2);
  json_generator_set_root(gen, root);
  g_autofree char *s = json_generator_to_data(gen, NULL);
  return g_strconcat(s, "\n", NULL);
}
