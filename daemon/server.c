/* The HTTP API (docs/api.md): listeners, routing, authentication, body limits and handlers.
 *
 * Everything runs in the thread that started the server, from its thread-default main context,
 * synchronously: every store call is one short transaction, and the renderer (previews) is
 * made once, lazily, and only ever used from this thread. */
#include "server.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cardspool.h"
#include "config.h"

#define ROLES_ALL \
  (CS_ROLE_ISSUER | CS_ROLE_OPERATOR | CS_ROLE_QA | CS_ROLE_AUDITOR | CS_ROLE_ADMIN)
#define ANY_ROLE 0u          /* any authenticated caller */
#define NO_AUTH G_MAXUINT    /* no token needed */
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define KEY_MAX 128          /* Idempotency-Key bytes */
#define TOKEN_MAX 512
#define TEXT_MAX 1000        /* a void reason, a batch name */
#define QR_MAX (64 * 1024)
/* After a 413 the rest of the body is read and dropped for a while, so that closing with
 * unread data does not reset the connection before the client has read the answer. */
#define DRAIN_BYTES (1024 * 1024)
#define DRAIN_SECONDS 2

struct cs_server {
  const cs_daemon_config_t *config;
  cs_store_t *store;
  cs_spooler_t *spooler;
  SoupServer *soup;
  char *address;            /* TCP, "HOST:PORT", or NULL */
  char *socket_path;        /* the socket file made here, removed at stop */
  dev_t socket_dev;
  ino_t socket_ino;
  cs_catalogue_t *catalogue;
  cs_renderer_t *renderer;  /* lazily: loading the pinned fonts takes a while */
  GHashTable *layouts;      /* name -> cs_layout_t, when config->layouts_dir is set */
  cs_trust_t *trust;        /* lazily, reloaded when a signer is unknown */
};

typedef struct {
  cs_server_t *server;
  SoupServerMessage *msg;
  const char *method;
  const char *path;
  GHashTable *query;  /* may be NULL */
  char *peer;         /* "127.0.0.1" or "uid 1000": who called, for the audit log */
  gboolean local_admin;
  char *actor;        /* the operator, once authenticated */
  guint roles;
  /* from the path */
  gint64 id;          /* job, batch or card serial */
  char *authority;
  char *name;         /* operator of DELETE /v1/tokens/NAME */
} request_t;

/* ---- JSON output ---- */

static void add_str(JsonBuilder *b, const char *name, const char *value) {
  json_builder_set_member_name(b, name);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

static void add_int(JsonBuilder *b, const char *name, gint64 value) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, value);
}

static void add_bool(JsonBuilder *b, const char *name, gboolean value) {
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, value);
}

static char *format_time(gint64 unix_seconds) {
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(unix_seconds);
  return dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;
}

static void add_time(JsonBuilder *b, const char *name, gint64 unix_seconds) {
  g_autofree char *text = unix_seconds > 0 ? format_time(unix_seconds) : NULL;
  add_str(b, name, text);
}

/* A validity end (the end of the last valid day, China Standard Time) as that day. */
static char *format_valid_until(gint64 unix_seconds) {
  if (unix_seconds <= 0)
    return NULL;
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(unix_seconds - 1);
  g_autoptr(GTimeZone) cst = g_time_zone_new_offset(8 * 3600);
  g_autoptr(GDateTime) local = utc ? g_date_time_to_timezone(utc, cst) : NULL;
  return local ? g_date_time_format(local, "%Y-%m-%d") : NULL;
}

static void build_job(JsonBuilder *b, const cs_store_job_t *j) {
  json_builder_begin_object(b);
  add_int(b, "id", j->id);
  add_str(b, "state", cs_job_state_name(j->state));
  add_str(b, "kind", cs_job_kind_name(j->kind));
  add_bool(b, "held", j->held);
  add_str(b, "authority_code", j->authority_code);
  add_str(b, "certificate_number", j->certificate_number);
  add_str(b, "reference", j->reference);
  add_str(b, "submitted_by", j->submitted_by);
  add_str(b, "printer", j->printer);
  add_int(b, "batch", j->batch_id);
  add_int(b, "serial", j->serial);
  add_int(b, "replaces_serial", j->replaces_serial);
  add_int(b, "attempts", j->attempts);
  add_str(b, "message", j->message);
  add_time(b, "created", j->created);
  add_time(b, "updated", j->updated);
  json_builder_end_object(b);
}

static void build_card(JsonBuilder *b, const cs_store_card_t *c) {
  g_autofree char *until = format_valid_until(c->valid_until);
  json_builder_begin_object(b);
  add_str(b, "authority_code", c->authority_code);
  add_int(b, "serial", c->serial);
  add_int(b, "job", c->job_id);
  add_str(b, "state", cs_card_state_name(c->state));
  add_str(b, "certificate_number", c->certificate_number);
  add_str(b, "valid_until", until);
  add_int(b, "superseded_by", c->superseded_by);
  add_time(b, "created", c->created);
  add_time(b, "updated", c->updated);
  json_builder_end_object(b);
}

static void build_problems(JsonBuilder *b, const cs_report_t *report) {
  json_builder_begin_array(b);
  for (guint i = 0; i < cs_report_count(report); i++) {
    const cs_problem_t *p = cs_report_get(report, i);
    json_builder_begin_object(b);
    add_str(b, "path", p->path);
    add_str(b, "code", p->code);
    add_str(b, "message", p->message);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

static void send_builder(SoupServerMessage *msg, guint status, JsonBuilder *b) {
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  char *body = g_strconcat(text, "\n", NULL);
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, body,
                                   strlen(body));
}

/* {"job": …} */
static void send_job(request_t *r, guint status, const cs_store_job_t *job) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "job");
  build_job(b, job);
  json_builder_end_object(b);
  send_builder(r->msg, status, b);
  if (status == SOUP_STATUS_CREATED) {
    g_autofree char *location = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT, job->id);
    soup_message_headers_replace(soup_server_message_get_response_headers(r->msg), "Location",
                                 location);
  }
}

/* ---- errors ---- */

static const char *error_code(guint status) {
  switch (status) {
  case SOUP_STATUS_BAD_REQUEST:
    return "invalid_request";
  case SOUP_STATUS_UNAUTHORIZED:
    return "unauthorized";
  case SOUP_STATUS_FORBIDDEN:
    return "forbidden";
  case SOUP_STATUS_NOT_FOUND:
    return "not_found";
  case SOUP_STATUS_METHOD_NOT_ALLOWED:
    return "method_not_allowed";
  case SOUP_STATUS_CONFLICT:
    return "conflict";
  case SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE:
    return "too_large";
  case SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE:
    return "unsupported_media_type";
  case SOUP_STATUS_UNPROCESSABLE_ENTITY:
    return "invalid";
  case SOUP_STATUS_SERVICE_UNAVAILABLE:
    return "unavailable";
  case SOUP_STATUS_INSUFFICIENT_STORAGE:
    return "insufficient_storage";
  default:
    return "internal";
  }
}

/* {"error": {"code", "message", "field"?, "problems"?}} */
static char *error_body(guint status, const char *field, const char *message,
                        const cs_report_t *problems) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "error");
  json_builder_begin_object(b);
  add_str(b, "code", error_code(status));
  add_str(b, "message", message);
  if (field)
    add_str(b, "field", field);
  if (problems) {
    json_builder_set_member_name(b, "problems");
    build_problems(b, problems);
  }
  json_builder_end_object(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  return g_strconcat(text, "\n", NULL);
}

static void send_error(SoupServerMessage *msg, guint status, const char *field,
                       const char *message, const cs_report_t *problems) {
  char *body = error_body(status, field, message, problems);
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, body,
                                   strlen(body));
}

static void fail(request_t *r, guint status, const char *field, const char *format, ...)
    G_GNUC_PRINTF(4, 5);
static void fail(request_t *r, guint status, const char *field, const char *format, ...) {
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  send_error(r->msg, status, field, message, NULL);
}

/* A store that cannot record, in words an operator acts on: a full disk is 507, anything
 * else 503; both may be retried (Retry-After), and a submission sent again with its
 * Idempotency-Key finishes what the first attempt began, never a second job. */
static char *store_failure(request_t *r, const GError *error, guint *status) {
  *status = SOUP_STATUS_SERVICE_UNAVAILABLE;
  soup_message_headers_replace(soup_server_message_get_response_headers(r->msg), "Retry-After",
                               "30");
  switch (cs_store_error_fault(r->server->store)) {
  case CS_STORE_FAULT_FULL:
    *status = SOUP_STATUS_INSUFFICIENT_STORAGE;
    return g_strdup_printf("the daemon's state directory is full (no space left on its disk): "
                           "the request was not carried out; free space there and send it "
                           "again [%s]", error->message);
  case CS_STORE_FAULT_READ_ONLY:
    return g_strdup_printf("the daemon's state directory is read-only: the request was not "
                           "carried out; make it writable and send it again [%s]",
                           error->message);
  case CS_STORE_FAULT_IO:
    return g_strdup_printf("the daemon's state directory cannot be written (input/output "
                           "error): the request was not carried out; send it again once the "
                           "disk is repaired [%s]", error->message);
  default:
    return g_strdup(error->message);
  }
}

/* A store or library error as its HTTP answer. */
static void fail_error(request_t *r, const GError *error) {
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  g_autofree char *message = NULL;
  if (error->domain == CS_ERROR) {
    switch (error->code) {
    case CS_ERROR_STORE:
      message = store_failure(r, error, &status);
      break;
    case CS_ERROR_NOT_FOUND:
      status = SOUP_STATUS_NOT_FOUND;
      break;
    case CS_ERROR_CONFLICT:
      status = SOUP_STATUS_CONFLICT;
      break;
    case CS_ERROR_INVALID:
      status = SOUP_STATUS_BAD_REQUEST;
      break;
    default:
      break;
    }
  }
  /* cardspoold's log writer folds repeats of the same line */
  if (status == SOUP_STATUS_INTERNAL_SERVER_ERROR || status == SOUP_STATUS_SERVICE_UNAVAILABLE ||
      status == SOUP_STATUS_INSUFFICIENT_STORAGE)
    g_warning("%s %s: %s", r->method, r->path, error->message);
  send_error(r->msg, status, NULL, message ? message : error->message, NULL);
}

/* Text from a client, safe to quote in a message: valid UTF-8, bounded. */
static char *quote_input(const char *text) {
  g_autofree char *valid = g_utf8_make_valid(text, -1);
  if (g_utf8_strlen(valid, -1) <= 80)
    return g_steal_pointer(&valid);
  g_autofree char *cut = g_utf8_substring(valid, 0, 80);
  return g_strconcat(cut, "…", NULL);
}

/* ---- the audit log ---- */

static void audit(cs_server_t *s, const char *actor, const char *action, const char *object,
                  const char *after) {
  g_autoptr(GError) error = NULL;
  if (!cs_store_audit(s->store, actor, action, object, NULL, after, &error))
    g_warning("cannot write the audit log (%s %s): %s", action, object, error->message);
}

static char *refusal_details(guint status, const char *reason, const char *peer) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_int(b, "status", status);
  add_str(b, "reason", reason);
  add_str(b, "peer", peer);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

/* 401, 403: answered and written to the audit log as "api.refused". */
static void refuse(request_t *r, guint status, const char *format, ...) G_GNUC_PRINTF(3, 4);
static void refuse(request_t *r, guint status, const char *format, ...) {
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  g_autofree char *object = g_strdup_printf("%s %s", r->method, r->path);
  g_autofree char *details = refusal_details(status, message, r->peer);
  audit(r->server, r->actor ? r->actor : r->peer, "api.refused", object, details);
  if (status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace(soup_server_message_get_response_headers(r->msg),
                                 "WWW-Authenticate", "Bearer");
  send_error(r->msg, status, NULL, message, NULL);
}

/* ---- who is calling ---- */

static gboolean uid_is_admin(const cs_daemon_config_t *config, uid_t uid) {
  for (guint i = 0; config->admin_uids && i < config->admin_uids->len; i++)
    if (g_array_index(config->admin_uids, uid_t, i) == uid)
      return TRUE;
  return FALSE;
}

/* peer: for the audit log; *local_admin: a Unix-socket peer whose uid is an admin's. */
static char *identify_peer(const cs_server_t *s, SoupServerMessage *msg,
                           gboolean *local_admin) {
  *local_admin = FALSE;
  GSocket *socket = soup_server_message_get_socket(msg);
  if (socket && g_socket_get_family(socket) == G_SOCKET_FAMILY_UNIX) {
    g_autoptr(GCredentials) credentials = g_socket_get_credentials(socket, NULL);
    uid_t uid = credentials ? g_credentials_get_unix_user(credentials, NULL) : (uid_t)-1;
    if (uid == (uid_t)-1)
      return g_strdup("unix peer");
    *local_admin = uid_is_admin(s->config, uid);
    return g_strdup_printf("uid %u", (unsigned)uid);
  }
  const char *host = soup_server_message_get_remote_host(msg);
  return g_strdup(host ? host : "unknown peer");
}

static char *role_names(guint roles) {
  g_autoptr(GString) names = g_string_new(NULL);
  for (guint bit = CS_ROLE_ISSUER; bit <= CS_ROLE_ADMIN; bit <<= 1) {
    if (!(roles & bit))
      continue;
    if (names->len)
      g_string_append(names, " or ");
    g_string_append(names, cs_role_name(bit));
  }
  return g_string_free(g_steal_pointer(&names), FALSE);
}

/* A token when one is sent (so the audit log names the operator), else the local admin. */
static gboolean authorize(request_t *r, guint need) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(r->msg);
  const char *auth = soup_message_headers_get_one(h, "Authorization");
  if (auth) {
    if (g_ascii_strncasecmp(auth, "Bearer ", 7) != 0) {
      refuse(r, SOUP_STATUS_UNAUTHORIZED, "the Authorization header must be “Bearer TOKEN”");
      return FALSE;
    }
    const char *token = auth + 7;
    while (*token == ' ')
      token++;
    if (*token == 0 || strlen(token) > TOKEN_MAX) {
      refuse(r, SOUP_STATUS_UNAUTHORIZED, "unknown or revoked token");
      return FALSE;
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *op = NULL;
    guint roles = 0;
    if (!cs_store_check_token(r->server->store, token, &op, &roles, &error)) {
      if (error)
        fail_error(r, error);
      else
        refuse(r, SOUP_STATUS_UNAUTHORIZED, "unknown or revoked token");
      return FALSE;
    }
    r->actor = g_steal_pointer(&op);
    r->roles = roles;
  } else if (r->local_admin) {
    r->actor = g_strdup("local");
    r->roles = ROLES_ALL;
  } else {
    refuse(r, SOUP_STATUS_UNAUTHORIZED, "this call needs the header Authorization: Bearer TOKEN");
    return FALSE;
  }
  if (need != ANY_ROLE && !(r->roles & (need | CS_ROLE_ADMIN))) {
    g_autofree char *names = role_names(need);
    refuse(r, SOUP_STATUS_FORBIDDEN, "this call needs the role %s", names);
    return FALSE;
  }
  return TRUE;
}

/* ---- request parameters ---- */

static gboolean check_query(request_t *r, const char *const *allowed) {
  if (r->query == NULL)
    return TRUE;
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, r->query);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    if (!g_utf8_validate(key, -1, NULL) || !g_utf8_validate(value, -1, NULL)) {
      fail(r, SOUP_STATUS_BAD_REQUEST, NULL, "the query is not UTF-8");
      return FALSE;
    }
    if (!g_strv_contains(allowed, key)) {
      g_autofree char *name = quote_input(key);
      fail(r, SOUP_STATUS_BAD_REQUEST, name, "unknown query parameter “%s”", name);
      return FALSE;
    }
  }
  return TRUE;
}

static const char *query_get(request_t *r, const char *name) {
  return r->query ? g_hash_table_lookup(r->query, name) : NULL;
}

/* FALSE (answered 400) when present and not an integer in min…max; *value kept if absent. */
static gboolean query_int(request_t *r, const char *name, gint64 min, gint64 max,
                          gint64 *value) {
  const char *text = query_get(r, name);
  if (text == NULL)
    return TRUE;
  gint64 v = 0;
  if (!g_ascii_isdigit(text[0]) ||
      !g_ascii_string_to_signed(text, 10, min, max, &v, NULL)) {
    fail(r, SOUP_STATUS_BAD_REQUEST, name,
         "%s must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, name, min, max);
    return FALSE;
  }
  *value = v;
  return TRUE;
}

static gboolean query_bool(request_t *r, const char *name, gboolean *value) {
  const char *text = query_get(r, name);
  if (text == NULL)
    return TRUE;
  if (g_str_equal(text, "true") || g_str_equal(text, "false")) {
    *value = g_str_equal(text, "true");
    return TRUE;
  }
  fail(r, SOUP_STATUS_BAD_REQUEST, name, "%s must be true or false", name);
  return FALSE;
}

/* One of choices (NULL-terminated), or *value kept if absent. */
static gboolean query_choice(request_t *r, const char *name, const char *const *choices,
                             const char **value) {
  const char *text = query_get(r, name);
  if (text == NULL)
    return TRUE;
  if (g_strv_contains(choices, text)) {
    *value = text;
    return TRUE;
  }
  g_autofree char *list = g_strjoinv(", ", (char **)choices);
  fail(r, SOUP_STATUS_BAD_REQUEST, name, "%s must be one of %s", name, list);
  return FALSE;
}

static gboolean check_type(request_t *r, const char *want) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(r->msg);
  const char *type = soup_message_headers_get_content_type(h, NULL);
  if (type && g_ascii_strcasecmp(type, want) == 0)
    return TRUE;
  fail(r, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "Content-Type", "the body must be %s", want);
  return FALSE;
}

/* The header, or NULL (answered 400). '#' is refused: batch lines use KEY#LINE. */
static const char *idempotency_key(request_t *r) {
  SoupMessageHeaders *h = soup_server_message_get_request_headers(r->msg);
  const char *key = soup_message_headers_get_one(h, "Idempotency-Key");
  if (key == NULL || *key == 0) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "Idempotency-Key",
         "the header Idempotency-Key is required: a new value for each submission, sent "
         "again unchanged when it is retried");
    return NULL;
  }
  gsize n = strlen(key);
  gboolean ok = n <= KEY_MAX;
  for (gsize i = 0; ok && i < n; i++)
    ok = key[i] > 0x20 && key[i] < 0x7f && key[i] != '#';
  if (!ok) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "Idempotency-Key",
         "Idempotency-Key must be 1 to %d visible ASCII characters other than #", KEY_MAX);
    return NULL;
  }
  return key;
}

static GBytes *request_body(request_t *r) {
  return soup_message_body_flatten(soup_server_message_get_request_body(r->msg));
}

/* A JSON object body with only the members listed, or NULL (answered 400 or 415). */
static JsonNode *json_body(request_t *r, const char *const *members) {
  if (!check_type(r, "application/json"))
    return NULL;
  g_autoptr(GBytes) body = request_body(r);
  gsize length = 0;
  const char *data = g_bytes_get_data(body, &length);
  if (length == 0 || !g_utf8_validate(data, (gssize)length, NULL)) {
    fail(r, SOUP_STATUS_BAD_REQUEST, NULL, "the body must be a JSON object in UTF-8");
    return NULL;
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_data(parser, data, (gssize)length, &error)) {
    fail(r, SOUP_STATUS_BAD_REQUEST, NULL, "malformed JSON: %s", error->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
    fail(r, SOUP_STATUS_BAD_REQUEST, NULL, "the body must be a JSON object");
    return NULL;
  }
  g_autoptr(GList) names = json_object_get_members(json_node_get_object(root));
  for (GList *l = names; l; l = l->next) {
    if (!g_strv_contains(members, l->data)) {
      g_autofree char *name = quote_input(l->data);
      fail(r, SOUP_STATUS_BAD_REQUEST, name, "unknown member “%s”", name);
      return NULL;
    }
  }
  return json_node_copy(root);
}

/* A string member, or NULL (answered 400) when missing, not a string, empty or too long. */
static const char *json_string_member(request_t *r, JsonNode *root, const char *name,
                                      gsize max_bytes) {
  JsonNode *node = json_object_get_member(json_node_get_object(root), name);
  if (node == NULL || JSON_NODE_TYPE(node) != JSON_NODE_VALUE ||
      json_node_get_value_type(node) != G_TYPE_STRING) {
    fail(r, SOUP_STATUS_BAD_REQUEST, name, "“%s” is required, a string", name);
    return NULL;
  }
  const char *value = json_node_get_string(node);
  if (*value == 0 || strlen(value) > max_bytes) {
    fail(r, SOUP_STATUS_BAD_REQUEST, name, "“%s” must be 1 to %" G_GSIZE_FORMAT " bytes", name,
         max_bytes);
    return NULL;
  }
  return value;
}

static void wake_spooler(cs_server_t *s) {
  if (s->spooler)
    cs_spooler_wake(s->spooler);
}

/* ---- jobs: validation and submission ---- */

/* Parses and validates one job document. NULL when it is not even a JSON object (the report
 * says why); else the job, with every problem in report. A photo given as a path is a problem:
 * the daemon reads no client files. */
static cs_job_t *check_job(cs_server_t *s, const char *data, gsize length, cs_report_t *report,
                           gboolean *photo_path) {
  *photo_path = FALSE;
  cs_job_t *job = cs_job_parse(data, length, NULL, report);
  if (job == NULL)
    return NULL;
  if (job->record->photo.path) {
    *photo_path = TRUE;
    /* same path and code as `cardspool validate` gives a photo it cannot read; validation
     * below then skips the photo (it never opens a path here) */
    if (!cs_report_has_path(report, "$.record.photo"))
      cs_report_add(report, "$.record.photo", "photo.unreadable", "%s",
                    "the daemon reads no client files: embed the photo as \"data\" (base64)");
    g_clear_pointer(&job->record->photo.path, g_free);
  }
  cs_validate_options_t options;
  cs_validate_options_init(&options);
  cs_record_validate(job->record, s->catalogue, &options, "$.record", report);
  return job;
}

static char *problems_summary(const cs_report_t *report) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < cs_report_count(report); i++) {
    const cs_problem_t *p = cs_report_get(report, i);
    g_autofree char *item = g_strdup_printf("%s %s", p->path, p->code);
    json_builder_add_string_value(b, item);
  }
  json_builder_end_array(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

static void audit_job_refused(request_t *r, const char *object, const cs_report_t *report) {
  g_autofree char *summary = problems_summary(report);
  audit(r->server, r->actor, "job.refused", object, summary);
}

/* A job that did not pass: 400 when it is not even JSON, else 422 (audited). */
static void fail_job(request_t *r, const cs_job_t *job, const cs_report_t *report,
                     gboolean photo_path) {
  const cs_problem_t *first = cs_report_get(report, 0);
  if (first == NULL) {
    fail(r, SOUP_STATUS_BAD_REQUEST, NULL, "the body is not a job document");
    return;
  }
  if (job == NULL) {
    send_error(r->msg, SOUP_STATUS_BAD_REQUEST, NULL, first->message, report);
    return;
  }
  g_autofree char *object = g_strdup_printf("job %s", job->reference ? job->reference : "-");
  audit_job_refused(r, object, report);
  g_autofree char *message = g_strdup_printf(
      "the job has %u problem%s, first %s: %s", cs_report_count(report),
      cs_report_count(report) == 1 ? "" : "s", first->path, first->message);
  send_error(r->msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, photo_path ? "record.photo.path" : NULL,
             message, report);
}

typedef struct {
  const char *printer;
  gboolean held;
  cs_job_kind_t kind;
  gint64 replaces;
  gint64 batch;
} submit_options_t;

/* printer, hold, and (allow_kind) kind and replaces from the query; FALSE when answered. */
static gboolean submit_options(request_t *r, submit_options_t *o, gboolean allow_kind) {
  memset(o, 0, sizeof *o);
  o->kind = CS_JOB_ISSUE;
  const char *printer = query_get(r, "printer");
  if (printer) {
    gboolean known = FALSE;
    GPtrArray *printers = r->server->config->printers;
    for (guint i = 0; printers && i < printers->len && !known; i++) {
      const cs_printer_config_t *p = g_ptr_array_index(printers, i);
      known = g_strcmp0(p->name, printer) == 0;
    }
    if (!known) {
      g_autofree char *name = quote_input(printer);
      fail(r, SOUP_STATUS_BAD_REQUEST, "printer",
           "no printer “%s” in the daemon's configuration", name);
      return FALSE;
    }
    o->printer = printer;
  }
  if (!query_bool(r, "hold", &o->held))
    return FALSE;
  if (!allow_kind)
    return TRUE;
  const char *kind = query_get(r, "kind");
  if (kind && !cs_job_kind_from_name(kind, &o->kind)) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "kind", "kind must be issue, renewal or reprint");
    return FALSE;
  }
  if (!query_int(r, "replaces", 1, G_MAXINT64, &o->replaces))
    return FALSE;
  if (o->kind == CS_JOB_ISSUE && o->replaces) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "replaces",
         "only a renewal or a reprint replaces a card: add kind=renewal or kind=reprint");
    return FALSE;
  }
  if (o->kind != CS_JOB_ISSUE && !o->replaces) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "replaces",
         "a %s names the card it replaces: replaces=SERIAL", cs_job_kind_name(o->kind));
    return FALSE;
  }
  return TRUE;
}

/* The digest that tells a retry from another request under the same key: the body and every
 * option that changes the job. */
static char *request_digest(const char *data, gsize length, const submit_options_t *o) {
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  g_checksum_update(sum, (const guchar *)data, length);
  g_autofree char *options =
      g_strdup_printf("\nkind=%s&replaces=%" G_GINT64_FORMAT "&printer=%s&hold=%d",
                      cs_job_kind_name(o->kind), o->replaces, o->printer ? o->printer : "",
                      o->held ? 1 : 0);
  g_checksum_update(sum, (const guchar *)options, strlen(options));
  return g_strdup(g_checksum_get_string(sum));
}

/* A renewal or reprint replaces a printed card of the same authority and certificate. */
static gboolean check_replaces(request_t *r, const cs_record_t *record, gint64 serial) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_card_t) card =
      cs_store_get_card(r->server->store, record->issuing_authority_code, serial, &error);
  if (card == NULL) {
    if (g_error_matches(error, CS_ERROR, CS_ERROR_NOT_FOUND))
      fail(r, SOUP_STATUS_CONFLICT, "replaces", "authority %s has no card %" G_GINT64_FORMAT,
           record->issuing_authority_code, serial);
    else
      fail_error(r, error);
    return FALSE;
  }
  if (card->state != CS_CARD_PRINTED) {
    fail(r, SOUP_STATUS_CONFLICT, "replaces",
         "card %s/%" G_GINT64_FORMAT " is %s: only a printed card can be replaced",
         card->authority_code, serial, cs_card_state_name(card->state));
    return FALSE;
  }
  if (g_strcmp0(card->certificate_number, record->certificate_number) != 0) {
    fail(r, SOUP_STATUS_CONFLICT, "replaces",
         "card %s/%" G_GINT64_FORMAT " is another certificate's (%s)", card->authority_code,
         serial, card->certificate_number);
    return FALSE;
  }
  return TRUE;
}

/* Stores a checked job, or finds the one a retry stored, and moves it to validated. */
static cs_store_job_t *submit(request_t *r, const cs_job_t *job, const char *key,
                              const char *digest, const submit_options_t *o,
                              gboolean *existing, GError **error) {
  cs_store_t *store = r->server->store;
  g_autofree char *json = cs_job_to_string(job);
  cs_store_submit_t sub = {
      .job_json = json,
      .authority_code = job->record->issuing_authority_code,
      .certificate_number = job->record->certificate_number,
      .reference = job->reference,
      .submitted_by = r->actor,
      .printer = o->printer,
      .kind = o->kind,
      .replaces_serial = o->replaces,
      .batch_id = o->batch,
      .held = o->held,
      .idempotency_key = key,
      .request_sha256 = digest,
  };
  gint64 id = 0;
  *existing = FALSE;
  if (!cs_store_submit(store, &sub, &id, existing, error))
    return NULL;
  g_autoptr(cs_store_job_t) stored = cs_store_get_job(store, id, error);
  if (stored == NULL)
    return NULL;
  /* new, or a retry of a submission interrupted between its two commits */
  if (stored->state == CS_JOB_RECEIVED) {
    if (!cs_store_transition(store, id, CS_JOB_RECEIVED, CS_JOB_VALIDATED, r->actor, NULL,
                             error))
      return NULL;
    cs_store_job_free(g_steal_pointer(&stored));
    stored = cs_store_get_job(store, id, error);
  }
  return g_steal_pointer(&stored);
}

/* A retry of an earlier submission is answered with its job (200) before any check that
 * only held the first time. TRUE when answered (or failed). */
static gboolean answer_retry(request_t *r, const char *key, const char *digest) {
  g_autoptr(GError) error = NULL;
  gint64 id = 0;
  if (!cs_store_find_submission(r->server->store, r->actor, key, digest, &id, &error)) {
    if (g_error_matches(error, CS_ERROR, CS_ERROR_CONFLICT))
      fail(r, SOUP_STATUS_CONFLICT, "Idempotency-Key",
           "this Idempotency-Key was used before with another request: %s", error->message);
    else
      fail_error(r, error);
    return TRUE;
  }
  if (id == 0)
    return FALSE;
  g_autoptr(cs_store_job_t) stored = cs_store_get_job(r->server->store, id, &error);
  /* the first attempt stopped between its two commits (a full disk…) and was refused: its job,
   * checked then, is finished now, else it would stay received and never print */
  if (stored && stored->state == CS_JOB_RECEIVED) {
    if (!cs_store_transition(r->server->store, id, CS_JOB_RECEIVED, CS_JOB_VALIDATED, r->actor,
                             NULL, &error) &&
        !g_error_matches(error, CS_ERROR, CS_ERROR_CONFLICT)) {
      fail_error(r, error);
      return TRUE;
    }
    g_clear_error(&error);
    g_clear_pointer(&stored, cs_store_job_free);
    stored = cs_store_get_job(r->server->store, id, &error);
    if (stored && !stored->held)
      wake_spooler(r->server);
  }
  if (stored == NULL)
    fail_error(r, error);
  else
    send_job(r, SOUP_STATUS_OK, stored);
  return TRUE;
}

/* A single submission's answer: 201 with the job, 200 with the original for a retry, 409 for a
 * key used with another request. */
static void submit_and_answer(request_t *r, const cs_job_t *job, const char *key,
                              const char *digest, const submit_options_t *o) {
  g_autoptr(GError) error = NULL;
  gboolean existing = FALSE;
  g_autoptr(cs_store_job_t) stored = submit(r, job, key, digest, o, &existing, &error);
  if (stored == NULL) {
    if (g_error_matches(error, CS_ERROR, CS_ERROR_CONFLICT))
      fail(r, SOUP_STATUS_CONFLICT, "Idempotency-Key",
           "this Idempotency-Key was used before with another request: %s", error->message);
    else
      fail_error(r, error);
    return;
  }
  if (!o->held)
    wake_spooler(r->server);
  send_job(r, existing ? SOUP_STATUS_OK : SOUP_STATUS_CREATED, stored);
}

static void post_job(request_t *r) {
  static const char *const params[] = {"printer", "hold", "kind", "replaces", NULL};
  if (!check_type(r, "application/json"))
    return;
  const char *key = idempotency_key(r);
  submit_options_t o;
  if (key == NULL || !check_query(r, params) || !submit_options(r, &o, TRUE))
    return;
  g_autoptr(GBytes) body = request_body(r);
  gsize length = 0;
  const char *data = g_bytes_get_data(body, &length);
  g_autoptr(cs_report_t) report = cs_report_new();
  gboolean photo_path = FALSE;
  g_autoptr(cs_job_t) job = check_job(r->server, data ? data : "", length, report, &photo_path);
  if (job == NULL || cs_report_count(report) > 0) {
    fail_job(r, job, report, photo_path);
    return;
  }
  g_autofree char *digest = request_digest(data ? data : "", length, &o);
  if (answer_retry(r, key, digest))
    return;
  if (o.kind != CS_JOB_ISSUE && !check_replaces(r, job->record, o.replaces))
    return;
  submit_and_answer(r, job, key, digest, &o);
}

/* ---- batches ---- */

typedef struct {
  guint line;
  const char *data; /* into the request body */
  gsize length;
  cs_report_t *report; /* its problems; none when it passed */
} batch_line_t;

static void batch_line_clear(batch_line_t *l) { g_clear_pointer(&l->report, cs_report_free); }

static gboolean blank(const char *p, gsize n) {
  for (gsize i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
      return FALSE;
  return TRUE;
}

static void post_batch(request_t *r) {
  static const char *const params[] = {"name", "printer", "hold", NULL};
  if (!check_type(r, "application/x-ndjson"))
    return;
  const char *key = idempotency_key(r);
  submit_options_t o;
  if (key == NULL || !check_query(r, params) || !submit_options(r, &o, FALSE))
    return;
  const char *name = query_get(r, "name");
  if (name && strlen(name) > TEXT_MAX) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "name", "name must be at most %d bytes", TEXT_MAX);
    return;
  }
  g_autoptr(GBytes) body = request_body(r);
  gsize length = 0;
  const char *data = g_bytes_get_data(body, &length);

  /* every line checked before any is stored */
  g_autoptr(GArray) lines = g_array_new(FALSE, TRUE, sizeof(batch_line_t));
  g_array_set_clear_func(lines, (GDestroyNotify)batch_line_clear);
  guint n_good = 0;
  const char *p = data, *end = data ? data + length : NULL;
  for (guint lineno = 1; p && p < end; lineno++) {
    const char *nl = memchr(p, '\n', (gsize)(end - p));
    gsize n = nl ? (gsize)(nl - p) : (gsize)(end - p);
    batch_line_t l = {.line = lineno, .data = p, .length = n};
    p = nl ? nl + 1 : end;
    if (n > 0 && l.data[n - 1] == '\r')
      l.length--;
    if (blank(l.data, l.length))
      continue;
    l.report = cs_report_new();
    gboolean photo_path = FALSE;
    /* only the verdict is kept: a good line is parsed again when stored, so a big batch
     * costs its body and one job in memory, not every job at once */
    g_autoptr(cs_job_t) job = check_job(r->server, l.data, l.length, l.report, &photo_path);
    if (job && cs_report_count(l.report) == 0)
      n_good++;
    else if (cs_report_count(l.report) == 0)
      cs_report_add(l.report, "$", "json.syntax", "%s", "not a job document");
    g_array_append_val(lines, l);
  }
  if (lines->len == 0) {
    fail(r, SOUP_STATUS_BAD_REQUEST, NULL, "the batch holds no job: one JSON job per line");
    return;
  }

  g_autoptr(GError) error = NULL;
  gint64 batch = 0;
  if (n_good > 0) {
    batch = cs_store_new_batch(r->server->store, r->actor, name, &error);
    if (batch <= 0) {
      fail_error(r, error);
      return;
    }
  }
  o.batch = batch;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "lines");
  json_builder_begin_array(b);
  guint accepted = 0, refused = 0;
  gboolean first = TRUE, wake = FALSE;
  for (guint i = 0; i < lines->len; i++) {
    batch_line_t *l = &g_array_index(lines, batch_line_t, i);
    json_builder_begin_object(b);
    add_int(b, "line", l->line);
    if (cs_report_count(l->report) > 0) {
      refused++;
      g_autofree char *object = g_strdup_printf("batch %s line %u", key, l->line);
      audit_job_refused(r, object, l->report);
      json_builder_set_member_name(b, "problems");
      build_problems(b, l->report);
      json_builder_end_object(b);
      continue;
    }
    g_autoptr(cs_report_t) again = cs_report_new();
    g_autoptr(cs_job_t) job = cs_job_parse(l->data, l->length, NULL, again);
    if (job == NULL) { /* parsed once already: cannot happen */
      fail(r, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL, "line %u cannot be read again", l->line);
      return;
    }
    g_autofree char *line_key = g_strdup_printf("%s#%u", key, l->line);
    g_autofree char *digest = request_digest(l->data, l->length, &o);
    gboolean existing = FALSE;
    g_autoptr(cs_store_job_t) stored = submit(r, job, line_key, digest, &o, &existing, &error);
    if (stored == NULL) {
      if (!g_error_matches(error, CS_ERROR, CS_ERROR_CONFLICT)) {
        /* the lines stored so far stay: a retry with the same key finishes the batch */
        fail_error(r, error);
        return;
      }
      refused++;
      json_builder_set_member_name(b, "error");
      json_builder_begin_object(b);
      add_str(b, "code", "conflict");
      add_str(b, "message", error->message);
      json_builder_end_object(b);
      json_builder_end_object(b);
      g_clear_error(&error);
      continue;
    }
    /* a retry: its jobs are in the batch the first attempt made, and so go the rest */
    if (first && existing && stored->batch_id > 0)
      o.batch = stored->batch_id;
    first = FALSE;
    wake = wake || (!existing && !o.held);
    accepted++;
    add_int(b, "job", stored->id);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "batch");
  if (accepted > 0)
    json_builder_add_int_value(b, o.batch);
  else
    json_builder_add_null_value(b);
  add_int(b, "accepted", accepted);
  add_int(b, "refused", refused);
  json_builder_end_object(b);
  if (wake)
    wake_spooler(r->server);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

static void get_batch(request_t *r) {
  static const char *const params[] = {NULL};
  if (!check_query(r, params))
    return;
  gint64 counts[CS_JOB_CANCELLED + 1] = {0};
  g_autoptr(GError) error = NULL;
  if (!cs_store_count_jobs(r->server->store, r->id, counts, &error)) {
    fail_error(r, error);
    return;
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_int(b, "batch", r->id);
  json_builder_set_member_name(b, "counts");
  json_builder_begin_object(b);
  gint64 total = 0;
  for (int s = CS_JOB_RECEIVED; s <= CS_JOB_CANCELLED; s++) {
    add_int(b, cs_job_state_name(s), counts[s]);
    total += counts[s];
  }
  json_builder_end_object(b);
  add_int(b, "total", total);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

/* ---- reading jobs ---- */

static void list_jobs(request_t *r) {
  static const char *const params[] = {"state", "authority", "certificate", "batch", "after",
                                       "limit", NULL};
  if (!check_query(r, params))
    return;
  cs_job_filter_t filter = {.state = -1};
  const char *state = query_get(r, "state");
  if (state) {
    cs_job_state_t s;
    if (!cs_job_state_from_name(state, &s)) {
      fail(r, SOUP_STATUS_BAD_REQUEST, "state",
           "state must be one of received, validated, rendered, queued, printing, printed, "
           "failed, needs-attention, cancelled");
      return;
    }
    filter.state = (int)s;
  }
  filter.authority_code = query_get(r, "authority");
  filter.certificate_number = query_get(r, "certificate");
  gint64 limit = LIST_DEFAULT;
  if (!query_int(r, "batch", 1, G_MAXINT64, &filter.batch_id) ||
      !query_int(r, "after", 0, G_MAXINT64, &filter.after_id) ||
      !query_int(r, "limit", 1, LIST_MAX, &limit))
    return;
  filter.limit = (guint)limit;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) jobs = cs_store_list_jobs(r->server->store, &filter, &error);
  if (jobs == NULL) {
    fail_error(r, error);
    return;
  }
  g_ptr_array_set_free_func(jobs, (GDestroyNotify)cs_store_job_free);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "jobs");
  json_builder_begin_array(b);
  for (guint i = 0; i < jobs->len; i++)
    build_job(b, g_ptr_array_index(jobs, i));
  json_builder_end_array(b);
  json_builder_set_member_name(b, "next");
  if (jobs->len > 0 && jobs->len >= filter.limit)
    json_builder_add_int_value(
        b, ((cs_store_job_t *)g_ptr_array_index(jobs, jobs->len - 1))->id);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

/* The job of the path, or NULL (answered 404 or 503). */
static cs_store_job_t *path_job(request_t *r) {
  g_autoptr(GError) error = NULL;
  cs_store_job_t *job = cs_store_get_job(r->server->store, r->id, &error);
  if (job == NULL)
    fail_error(r, error);
  return job;
}

/* The job's current card, NULL when it has none yet; *failed when answered. */
static cs_store_card_t *job_card(request_t *r, const cs_store_job_t *job, gboolean *failed) {
  *failed = FALSE;
  if (job->serial <= 0)
    return NULL;
  g_autoptr(GError) error = NULL;
  cs_store_card_t *card =
      cs_store_get_card(r->server->store, job->authority_code, job->serial, &error);
  if (card == NULL && !g_error_matches(error, CS_ERROR, CS_ERROR_NOT_FOUND)) {
    fail_error(r, error);
    *failed = TRUE;
  }
  return card;
}

static void get_job(request_t *r) {
  static const char *const params[] = {NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(cs_store_job_t) job = path_job(r);
  if (job == NULL)
    return;
  gboolean failed = FALSE;
  g_autoptr(cs_store_card_t) card = job_card(r, job, &failed);
  if (failed)
    return;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "job");
  build_job(b, job);
  json_builder_set_member_name(b, "card");
  if (card)
    build_card(b, card);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

/* ---- operators' actions on jobs ---- */

typedef enum { ACT_HOLD, ACT_RELEASE, ACT_CANCEL } job_action_t;

static void job_action(request_t *r, job_action_t action) {
  static const char *const params[] = {NULL};
  if (!check_query(r, params))
    return;
  cs_store_t *store = r->server->store;
  g_autoptr(GError) error = NULL;
  gboolean ok = action == ACT_CANCEL
                    ? cs_store_cancel(store, r->id, r->actor, &error)
                    : cs_store_set_held(store, r->id, action == ACT_HOLD, r->actor, &error);
  if (!ok) {
    fail_error(r, error);
    return;
  }
  if (action == ACT_RELEASE)
    wake_spooler(r->server);
  g_autoptr(cs_store_job_t) job = path_job(r);
  if (job)
    send_job(r, SOUP_STATUS_OK, job);
}

static void post_hold(request_t *r) { job_action(r, ACT_HOLD); }
static void post_release(request_t *r) { job_action(r, ACT_RELEASE); }
static void post_cancel(request_t *r) { job_action(r, ACT_CANCEL); }

static void post_resolve(request_t *r) {
  static const char *const params[] = {NULL};
  static const char *const members[] = {"outcome", NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(JsonNode) root = json_body(r, members);
  if (root == NULL)
    return;
  const char *outcome = json_string_member(r, root, "outcome", 16);
  if (outcome == NULL)
    return;
  if (!g_str_equal(outcome, "printed") && !g_str_equal(outcome, "spoiled")) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "outcome", "outcome must be printed or spoiled");
    return;
  }
  gboolean printed = g_str_equal(outcome, "printed");
  g_autoptr(GError) error = NULL;
  if (!cs_store_resolve(r->server->store, r->id, printed, r->actor, &error)) {
    fail_error(r, error);
    return;
  }
  if (!printed)
    wake_spooler(r->server);
  g_autoptr(cs_store_job_t) job = path_job(r);
  if (job)
    send_job(r, SOUP_STATUS_OK, job);
}

/* The job's card printed again under a new serial; the old one superseded once it prints. */
static void post_reprint(request_t *r) {
  static const char *const params[] = {"printer", "hold", NULL};
  const char *key = idempotency_key(r);
  submit_options_t o;
  if (key == NULL || !check_query(r, params) || !submit_options(r, &o, FALSE))
    return;
  g_autoptr(cs_store_job_t) original = path_job(r);
  if (original == NULL)
    return;
  if (original->serial <= 0) {
    fail(r, SOUP_STATUS_CONFLICT, NULL, "job %" G_GINT64_FORMAT " is %s and has no card yet",
         original->id, cs_job_state_name(original->state));
    return;
  }
  if (o.printer == NULL)
    o.printer = original->printer;
  o.kind = CS_JOB_REPRINT;
  o.replaces = original->serial;
  /* checked again: a certificate that has expired since is not printed again */
  g_autoptr(cs_report_t) report = cs_report_new();
  gboolean photo_path = FALSE;
  g_autoptr(cs_job_t) job = check_job(r->server, original->job_json, strlen(original->job_json),
                                      report, &photo_path);
  if (job == NULL || cs_report_count(report) > 0) {
    fail_job(r, job, report, photo_path);
    return;
  }
  g_autofree char *what = g_strdup_printf("reprint of job %" G_GINT64_FORMAT, original->id);
  g_autofree char *digest = request_digest(what, strlen(what), &o);
  if (answer_retry(r, key, digest))
    return;
  if (!check_replaces(r, job->record, o.replaces))
    return;
  submit_and_answer(r, job, key, digest, &o);
}

/* ---- preview ---- */

static cs_renderer_t *renderer(cs_server_t *s, GError **error) {
  if (s->renderer == NULL)
    s->renderer = cs_renderer_new(s->catalogue, NULL, error);
  return s->renderer;
}

static const cs_layout_t *layout_for(cs_server_t *s, cs_cert_type_t type, GError **error) {
  const char *dir = s->config->layouts_dir;
  if (dir == NULL || *dir == 0)
    return cs_renderer_layout(s->renderer, NULL, type, error);
  const char *name = cs_layout_default_name(type);
  if (name == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, "no layout for this certificate type");
    return NULL;
  }
  cs_layout_t *layout = g_hash_table_lookup(s->layouts, name);
  if (layout == NULL) {
    g_autofree char *file = g_strconcat(name, ".json", NULL);
    g_autofree char *path = g_build_filename(dir, file, NULL);
    layout = cs_layout_load(path, error);
    if (layout == NULL)
      return NULL;
    g_hash_table_insert(s->layouts, g_strdup(name), layout);
  }
  return layout;
}

/* Writes through a private temporary file (the outputs write files) and reads it back. */
static gboolean render_to_bytes(const cs_card_t *card, gboolean pdf, const char *const *sides,
                                const char *title, char **data, gsize *length, GError **error) {
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp(pdf ? "cardspoold-preview-XXXXXX.pdf" : "cardspoold-preview-XXXXXX.png",
                           &path, error);
  if (fd < 0)
    return FALSE;
  close(fd);
  gboolean ok;
  if (pdf) {
    cs_pdf_writer_t *w = cs_pdf_writer_new(path, title, error);
    ok = w != NULL;
    if (ok && !cs_pdf_writer_add(w, card, sides, error)) {
      cs_pdf_writer_close(w, NULL);
      ok = FALSE;
    } else if (ok) {
      ok = cs_pdf_writer_close(w, error);
    }
  } else {
    ok = cs_card_write_png(card, sides[0], 300, path, error);
  }
  ok = ok && g_file_get_contents(path, data, length, error);
  g_unlink(path);
  return ok;
}

static void get_preview(request_t *r) {
  static const char *const params[] = {"format", "side", NULL};
  static const char *const formats[] = {"png", "pdf", NULL};
  /* ecert and paper: the electronic certificate and its A4 print, which have the same legal
   * force as the card and carry the same signed QR */
  static const char *const side_names[] = {"front", "back", "ecert", "paper", NULL};
  if (!check_query(r, params))
    return;
  const char *format = "png", *side = NULL;
  if (!query_choice(r, "format", formats, &format) ||
      !query_choice(r, "side", side_names, &side))
    return;
  gboolean pdf = g_str_equal(format, "pdf");
  g_autoptr(cs_store_job_t) job = path_job(r);
  if (job == NULL)
    return;
  gboolean failed = FALSE;
  g_autoptr(cs_store_card_t) stored_card = job_card(r, job, &failed);
  if (failed)
    return;
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) doc = cs_job_parse(job->job_json, strlen(job->job_json), NULL, report);
  if (doc == NULL) {
    fail(r, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL, "the stored job %" G_GINT64_FORMAT
         " cannot be read", job->id);
    return;
  }
  if (job->serial > 0)
    doc->record->card_serial = job->serial;
  g_autoptr(GError) error = NULL;
  const cs_layout_t *layout = NULL;
  if (renderer(r->server, &error) == NULL ||
      (layout = layout_for(r->server, doc->record->type, &error)) == NULL) {
    fail_error(r, error);
    return;
  }
  /* signed once the card is rendered (its credential is stored when queued), else SPECIMEN */
  const char *qr = stored_card ? stored_card->credential : NULL;
  const char *sides[3] = {NULL, NULL, NULL};
  guint n = 0;
  for (guint i = 0; side_names[i]; i++)
    if ((side == NULL && i < 2 && (pdf || i == 0)) || g_strcmp0(side, side_names[i]) == 0)
      if (cs_layout_side(layout, side_names[i]))
        sides[n++] = side_names[i];
  if (n == 0) {
    fail(r, SOUP_STATUS_NOT_FOUND, "side", "this card's layout has no %s side", side);
    return;
  }
  g_autoptr(cs_card_t) card = cs_card_new(r->server->renderer, layout, doc->record, qr, sides,
                                          &error);
  if (card == NULL) {
    fail_error(r, error);
    return;
  }
  g_autofree char *title = g_strdup_printf("job %" G_GINT64_FORMAT, job->id);
  char *data = NULL;
  gsize length = 0;
  if (!render_to_bytes(card, pdf, sides, title, &data, &length, &error)) {
    fail_error(r, error);
    return;
  }
  g_autofree char *what = g_strdup_printf("%s %s%s", format, pdf && !side ? "all" : sides[0],
                                          qr ? "" : " specimen");
  audit(r->server, r->actor, "card.preview", title, what);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(r->msg);
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  soup_server_message_set_status(r->msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response(r->msg, pdf ? "application/pdf" : "image/png",
                                   SOUP_MEMORY_TAKE, data, length);
}

/* ---- cards ---- */

static cs_store_card_t *path_card(request_t *r) {
  g_autoptr(GError) error = NULL;
  cs_store_card_t *card = cs_store_get_card(r->server->store, r->authority, r->id, &error);
  if (card == NULL)
    fail_error(r, error);
  return card;
}

static void send_card(request_t *r, const cs_store_card_t *card) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "card");
  build_card(b, card);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

static void get_card(request_t *r) {
  static const char *const params[] = {NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(cs_store_card_t) card = path_card(r);
  if (card)
    send_card(r, card);
}

static void post_void(request_t *r) {
  static const char *const params[] = {NULL};
  static const char *const members[] = {"reason", NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(JsonNode) root = json_body(r, members);
  if (root == NULL)
    return;
  const char *reason = json_string_member(r, root, "reason", TEXT_MAX);
  if (reason == NULL)
    return;
  g_autoptr(GError) error = NULL;
  if (!cs_store_void_card(r->server->store, r->authority, r->id, reason, r->actor, &error)) {
    fail_error(r, error);
    return;
  }
  g_autoptr(cs_store_card_t) card = path_card(r);
  if (card)
    send_card(r, card);
}

/* ---- printers ---- */

static void get_printers(request_t *r) {
  static const char *const params[] = {NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(GPtrArray) printers = r->server->spooler ? cs_spooler_printers(r->server->spooler)
                                                     : g_ptr_array_new();
  g_ptr_array_set_free_func(printers, (GDestroyNotify)cs_spooler_printer_free);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "printers");
  json_builder_begin_array(b);
  for (guint i = 0; i < printers->len; i++) {
    const cs_spooler_printer_t *p = g_ptr_array_index(printers, i);
    json_builder_begin_object(b);
    add_str(b, "name", p->name);
    add_str(b, "uri", p->uri);
    add_str(b, "model", p->model);
    add_str(b, "state", p->state);
    add_str(b, "message", p->message);
    json_builder_set_member_name(b, "job");
    if (p->job_id > 0)
      json_builder_add_int_value(b, p->job_id);
    else
      json_builder_add_null_value(b);
    add_int(b, "printed", (gint64)p->printed);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

/* ---- verify ---- */

/* The trust store: config->trust_dir, else every KEY_DIR/<authority>/cert.pem. */
static cs_trust_t *load_trust(const cs_daemon_config_t *config, GError **error) {
  if (config->trust_dir && *config->trust_dir)
    return cs_trust_load(config->trust_dir, error);
  g_autoptr(cs_trust_t) trust = cs_trust_new();
  if (config->key_dir == NULL || *config->key_dir == 0)
    return g_steal_pointer(&trust);
  g_autoptr(GDir) dir = g_dir_open(config->key_dir, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name(dir));) {
    g_autofree char *cert = g_build_filename(config->key_dir, name, "cert.pem", NULL);
    if (g_file_test(cert, G_FILE_TEST_IS_REGULAR) && !cs_trust_add_file(trust, cert, error))
      return NULL;
  }
  return g_steal_pointer(&trust);
}

static gboolean reload_trust(cs_server_t *s, GError **error) {
  cs_trust_t *trust = load_trust(s->config, error);
  if (trust == NULL)
    return FALSE;
  g_clear_pointer(&s->trust, cs_trust_free);
  s->trust = trust;
  return TRUE;
}

static void post_verify(request_t *r) {
  static const char *const params[] = {NULL};
  static const char *const members[] = {"qr", NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(JsonNode) root = json_body(r, members);
  if (root == NULL)
    return;
  const char *qr = json_string_member(r, root, "qr", QR_MAX);
  if (qr == NULL)
    return;
  cs_server_t *s = r->server;
  /* scanners often add a line end */
  g_autofree char *text = g_strstrip(g_strdup(qr));
  g_autoptr(GError) error = NULL;
  if (s->trust == NULL && !reload_trust(s, &error)) {
    fail_error(r, error);
    return;
  }
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  g_autoptr(cs_verify_result_t) v = cs_credential_verify(text, NULL, s->trust, now);
  /* a key added since the store was loaded */
  if (v->status == CS_VERIFY_UNKNOWN_SIGNER && reload_trust(s, NULL)) {
    cs_verify_result_free(g_steal_pointer(&v));
    v = cs_credential_verify(text, NULL, s->trust, now);
  }
  const char *status = NULL;
  g_autofree char *detail = g_strdup(v->detail);
  g_autoptr(cs_store_card_t) card = NULL;
  switch (v->status) {
  case CS_VERIFY_MALFORMED:
    status = "malformed";
    break;
  case CS_VERIFY_BAD_SIGNATURE:
    status = "bad-signature";
    break;
  case CS_VERIFY_UNKNOWN_SIGNER:
    status = "unknown-signer";
    break;
  case CS_VERIFY_NOT_YET_VALID:
    status = "not-yet-valid";
    break;
  case CS_VERIFY_VALID:
  case CS_VERIFY_EXPIRED: {
    g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
    card = cs_store_find_card(s->store, sha, &error);
    if (card == NULL && error) {
      fail_error(r, error);
      return;
    }
    g_free(g_steal_pointer(&detail));
    if (card == NULL) {
      status = "unknown-card";
      detail = g_strdup("the signature is good, but no card in the registry carries this QR");
      break;
    }
    switch (card->state) {
    case CS_CARD_PRINTED:
      status = v->status == CS_VERIFY_EXPIRED ? "expired" : "valid";
      detail = v->status == CS_VERIFY_EXPIRED
                   ? g_strdup_printf("card %s/%" G_GINT64_FORMAT " expired",
                                     card->authority_code, card->serial)
                   : g_strdup_printf("card %s/%" G_GINT64_FORMAT " was issued and is valid",
                                     card->authority_code, card->serial);
      break;
    case CS_CARD_VOIDED:
    case CS_CARD_SPOILED:
    case CS_CARD_CANCELLED:
      status = "revoked";
      detail = g_strdup_printf("card %s/%" G_GINT64_FORMAT " is %s", card->authority_code,
                               card->serial, cs_card_state_name(card->state));
      break;
    case CS_CARD_SUPERSEDED:
      status = "superseded";
      detail = g_strdup_printf("card %s/%" G_GINT64_FORMAT " was replaced by card "
                               "%" G_GINT64_FORMAT, card->authority_code, card->serial,
                               card->superseded_by);
      break;
    case CS_CARD_RENDERED:
      status = "unknown-card";
      detail = g_strdup_printf("card %s/%" G_GINT64_FORMAT " has not been printed",
                               card->authority_code, card->serial);
      break;
    }
    break;
  }
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_str(b, "status", status);
  add_str(b, "detail", detail);
  json_builder_set_member_name(b, "card");
  if (card)
    build_card(b, card);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

/* ---- audit ---- */

static void get_audit(request_t *r) {
  static const char *const params[] = {"after", "limit", NULL};
  if (!check_query(r, params))
    return;
  gint64 after = 0, limit = LIST_DEFAULT;
  if (!query_int(r, "after", 0, G_MAXINT64, &after) ||
      !query_int(r, "limit", 1, LIST_MAX, &limit))
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries =
      cs_store_audit_list(r->server->store, after, (guint)limit, &error);
  if (entries == NULL) {
    fail_error(r, error);
    return;
  }
  g_ptr_array_set_free_func(entries, (GDestroyNotify)cs_audit_entry_free);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "entries");
  json_builder_begin_array(b);
  for (guint i = 0; i < entries->len; i++) {
    const cs_audit_entry_t *e = g_ptr_array_index(entries, i);
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(e->time / G_USEC_PER_SEC);
    g_autoptr(GDateTime) tu = t ? g_date_time_add(t, e->time % G_USEC_PER_SEC) : NULL;
    g_autofree char *time = tu ? g_date_time_format(tu, "%Y-%m-%dT%H:%M:%S.%fZ") : NULL;
    json_builder_begin_object(b);
    add_int(b, "seq", e->seq);
    add_str(b, "time", time);
    add_str(b, "actor", e->actor);
    add_str(b, "action", e->action);
    add_str(b, "object", e->object);
    add_str(b, "before", e->before);
    add_str(b, "after", e->after);
    add_str(b, "prev_hash", e->prev_hash);
    add_str(b, "hash", e->hash);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "next");
  if (entries->len > 0 && entries->len >= (guint)limit)
    json_builder_add_int_value(
        b, ((cs_audit_entry_t *)g_ptr_array_index(entries, entries->len - 1))->seq);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

static void get_audit_verify(request_t *r) {
  static const char *const params[] = {NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(GError) error = NULL;
  gint64 checked = 0;
  gboolean ok = cs_store_audit_verify(r->server->store, &checked, &error);
  if (!ok && !g_error_matches(error, CS_ERROR, CS_ERROR_DATA)) {
    fail_error(r, error);
    return;
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_bool(b, "ok", ok);
  add_int(b, "checked", checked);
  if (!ok)
    add_str(b, "error", error->message);
  json_builder_end_object(b);
  send_builder(r->msg, SOUP_STATUS_OK, b);
}

/* ---- export (docs/export.md) ---- */

static void csv_field(GString *out, const char *value) {
  if (value == NULL)
    value = "";
  if (strpbrk(value, ",\"\r\n") == NULL) {
    g_string_append(out, value);
    return;
  }
  g_string_append_c(out, '"');
  for (const char *p = value; *p; p++) {
    if (*p == '"')
      g_string_append_c(out, '"');
    g_string_append_c(out, *p);
  }
  g_string_append_c(out, '"');
}

static void get_export(request_t *r) {
  static const char *const params[] = {"format", NULL};
  static const char *const formats[] = {"json", "csv", NULL};
  if (!check_query(r, params))
    return;
  const char *format = "json";
  if (!query_choice(r, "format", formats, &format))
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cards = cs_store_list_cards(r->server->store, &error);
  if (cards == NULL) {
    fail_error(r, error);
    return;
  }
  g_ptr_array_set_free_func(cards, (GDestroyNotify)cs_store_card_free);
  g_autofree char *count = g_strdup_printf("%s, %u cards", format, cards->len);
  audit(r->server, r->actor, "export", "cards", count);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(r->msg);
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  if (g_str_equal(format, "json")) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "cards");
    json_builder_begin_array(b);
    for (guint i = 0; i < cards->len; i++) {
      const cs_store_card_t *c = g_ptr_array_index(cards, i);
      g_autofree char *until = format_valid_until(c->valid_until);
      json_builder_begin_object(b);
      add_str(b, "authority_code", c->authority_code);
      add_int(b, "serial", c->serial);
      add_str(b, "certificate_number", c->certificate_number);
      add_str(b, "state", cs_card_state_name(c->state));
      add_str(b, "valid_until", until);
      add_time(b, "created", c->created);
      add_time(b, "updated", c->updated);
      add_int(b, "superseded_by", c->superseded_by);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    send_builder(r->msg, SOUP_STATUS_OK, b);
    return;
  }
  GString *csv = g_string_new("authority_code,serial,certificate_number,state,valid_until,"
                              "created,updated,superseded_by\r\n");
  for (guint i = 0; i < cards->len; i++) {
    const cs_store_card_t *c = g_ptr_array_index(cards, i);
    g_autofree char *until = format_valid_until(c->valid_until);
    g_autofree char *created = c->created > 0 ? format_time(c->created) : NULL;
    g_autofree char *updated = c->updated > 0 ? format_time(c->updated) : NULL;
    csv_field(csv, c->authority_code);
    g_string_append_printf(csv, ",%" G_GINT64_FORMAT ",", c->serial);
    csv_field(csv, c->certificate_number);
    g_string_append_c(csv, ',');
    csv_field(csv, cs_card_state_name(c->state));
    g_string_append_c(csv, ',');
    csv_field(csv, until);
    g_string_append_c(csv, ',');
    csv_field(csv, created);
    g_string_append_c(csv, ',');
    csv_field(csv, updated);
    if (c->superseded_by > 0)
      g_string_append_printf(csv, ",%" G_GINT64_FORMAT "\r\n", c->superseded_by);
    else
      g_string_append(csv, ",\r\n");
  }
  soup_message_headers_replace(h, "Content-Disposition", "attachment; filename=\"cards.csv\"");
  soup_server_message_set_status(r->msg, SOUP_STATUS_OK, NULL);
  gsize length = csv->len;
  soup_server_message_set_response(r->msg, "text/csv; charset=utf-8", SOUP_MEMORY_TAKE,
                                   g_string_free(csv, FALSE), length);
}

/* ---- tokens ---- */

static gboolean operator_name_ok(const char *name) {
  gsize n = strlen(name);
  if (n == 0 || n > 64)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum(name[i]) && !strchr("._@-", name[i]))
      return FALSE;
  return TRUE;
}

static void post_token(request_t *r) {
  static const char *const params[] = {NULL};
  static const char *const members[] = {"operator", "roles", NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(JsonNode) root = json_body(r, members);
  if (root == NULL)
    return;
  const char *op = json_string_member(r, root, "operator", 64);
  if (op == NULL)
    return;
  if (!operator_name_ok(op) || g_str_equal(op, "local")) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "operator",
         "operator must be 1 to 64 letters, digits or . _ @ - (and not “local”)");
    return;
  }
  JsonNode *list = json_object_get_member(json_node_get_object(root), "roles");
  JsonArray *array = list && JSON_NODE_HOLDS_ARRAY(list) ? json_node_get_array(list) : NULL;
  guint roles = 0;
  for (guint i = 0; array && i < json_array_get_length(array); i++) {
    JsonNode *item = json_array_get_element(array, i);
    cs_role_t role;
    if (JSON_NODE_TYPE(item) != JSON_NODE_VALUE ||
        json_node_get_value_type(item) != G_TYPE_STRING ||
        !cs_role_from_name(json_node_get_string(item), &role)) {
      array = NULL;
      break;
    }
    roles |= role;
  }
  if (array == NULL || roles == 0) {
    fail(r, SOUP_STATUS_BAD_REQUEST, "roles",
         "roles must be a non-empty array of issuer, operator, qa, auditor, admin");
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autofree char *token = cs_store_add_token(r->server->store, op, roles, r->actor, &error);
  if (token == NULL) {
    fail_error(r, error);
    return;
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_str(b, "token", token);
  add_str(b, "operator", op);
  json_builder_set_member_name(b, "roles");
  json_builder_begin_array(b);
  for (guint bit = CS_ROLE_ISSUER; bit <= CS_ROLE_ADMIN; bit <<= 1)
    if (roles & bit)
      json_builder_add_string_value(b, cs_role_name(bit));
  json_builder_end_array(b);
  json_builder_end_object(b);
  soup_message_headers_replace(soup_server_message_get_response_headers(r->msg),
                               "Cache-Control", "no-store");
  send_builder(r->msg, SOUP_STATUS_CREATED, b);
}

static void delete_token(request_t *r) {
  static const char *const params[] = {NULL};
  if (!check_query(r, params))
    return;
  g_autoptr(GError) error = NULL;
  if (!cs_store_revoke_tokens(r->server->store, r->name, r->actor, &error)) {
    fail_error(r, error);
    return;
  }
  soup_server_message_set_status(r->msg, SOUP_STATUS_NO_CONTENT, NULL);
}

/* 200 while the store can record, else 503 with the cause (not the paths: no token is needed
 * here), so a monitor sees a full or read-only state directory before a submission fails. */
static void get_health(request_t *r) {
  g_autoptr(GError) error = NULL;
  cs_store_fault_t fault = CS_STORE_FAULT_NONE;
  gboolean ok = cs_store_check_writable(r->server->store, &fault, &error);
  if (!ok)
    g_warning("health: %s", error->message);
  const char *problem = fault == CS_STORE_FAULT_FULL ? "the state directory is full (no space "
                                                       "left on its disk)"
                        : fault == CS_STORE_FAULT_READ_ONLY ? "the state directory is read-only"
                        : fault == CS_STORE_FAULT_IO ? "the state directory cannot be written "
                                                       "(input/output error)"
                                                     : "the store cannot record";
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  add_str(b, "status", ok ? "ok" : "failing");
  add_str(b, "version", CS_VERSION);
  json_builder_set_member_name(b, "store");
  json_builder_begin_object(b);
  add_bool(b, "ok", ok);
  if (!ok) {
    add_str(b, "fault", cs_store_fault_name(fault));
    add_str(b, "message", problem);
  }
  json_builder_end_object(b);
  json_builder_end_object(b);
  if (!ok)
    soup_message_headers_replace(soup_server_message_get_response_headers(r->msg),
                                 "Retry-After", "30");
  send_builder(r->msg, ok ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, b);
}

/* ---- routing ---- */

typedef enum {
  EP_HEALTH,
  EP_JOBS,
  EP_JOB,
  EP_HOLD,
  EP_RELEASE,
  EP_CANCEL,
  EP_RESOLVE,
  EP_REPRINT,
  EP_PREVIEW,
  EP_BATCHES,
  EP_BATCH,
  EP_CARD,
  EP_VOID,
  EP_PRINTERS,
  EP_VERIFY,
  EP_AUDIT,
  EP_AUDIT_VERIFY,
  EP_EXPORT,
  EP_TOKENS,
  EP_TOKEN,
} endpoint_t;

typedef struct {
  endpoint_t endpoint;
  const char *method;
  guint roles; /* any one of them, or admin */
  void (*handler)(request_t *r);
} route_t;

static const route_t routes[] = {
    {EP_HEALTH, "GET", NO_AUTH, get_health},
    {EP_JOBS, "POST", CS_ROLE_ISSUER, post_job},
    {EP_JOBS, "GET", ANY_ROLE, list_jobs},
    {EP_JOB, "GET", ANY_ROLE, get_job},
    {EP_HOLD, "POST", CS_ROLE_OPERATOR, post_hold},
    {EP_RELEASE, "POST", CS_ROLE_OPERATOR, post_release},
    {EP_CANCEL, "POST", CS_ROLE_OPERATOR, post_cancel},
    {EP_RESOLVE, "POST", CS_ROLE_OPERATOR, post_resolve},
    {EP_REPRINT, "POST", CS_ROLE_OPERATOR, post_reprint},
    {EP_PREVIEW, "GET", CS_ROLE_QA | CS_ROLE_OPERATOR | CS_ROLE_ISSUER, get_preview},
    {EP_BATCHES, "POST", CS_ROLE_ISSUER, post_batch},
    {EP_BATCH, "GET", ANY_ROLE, get_batch},
    {EP_CARD, "GET", ANY_ROLE, get_card},
    {EP_VOID, "POST", CS_ROLE_OPERATOR, post_void},
    {EP_PRINTERS, "GET", ANY_ROLE, get_printers},
    {EP_VERIFY, "POST", CS_ROLE_QA, post_verify},
    {EP_AUDIT, "GET", CS_ROLE_AUDITOR, get_audit},
    {EP_AUDIT_VERIFY, "GET", CS_ROLE_AUDITOR, get_audit_verify},
    {EP_EXPORT, "GET", CS_ROLE_AUDITOR, get_export},
    {EP_TOKENS, "POST", CS_ROLE_ADMIN, post_token},
    {EP_TOKEN, "DELETE", CS_ROLE_ADMIN, delete_token},
};

static gboolean parse_id(const char *text, gint64 *id) {
  return g_ascii_isdigit(text[0]) && g_ascii_string_to_signed(text, 10, 1, G_MAXINT64, id, NULL);
}

/* The endpoint a path names, its parameters in r; FALSE for no endpoint. */
static gboolean parse_path(request_t *r, endpoint_t *ep) {
  g_auto(GStrv) parts = g_strsplit(r->path, "/", 0);
  guint n = g_strv_length(parts);
  if (n < 3 || parts[0][0] != 0 || !g_str_equal(parts[1], "v1"))
    return FALSE;
  char **p = parts + 2;
  n -= 2;
  static const struct {
    const char *name;
    endpoint_t ep;
  } simple[] = {{"health", EP_HEALTH}, {"jobs", EP_JOBS},     {"batches", EP_BATCHES},
                {"printers", EP_PRINTERS}, {"verify", EP_VERIFY}, {"audit", EP_AUDIT},
                {"export", EP_EXPORT},     {"tokens", EP_TOKENS}};
  if (n == 1) {
    for (guint i = 0; i < G_N_ELEMENTS(simple); i++)
      if (g_str_equal(p[0], simple[i].name)) {
        *ep = simple[i].ep;
        return TRUE;
      }
    return FALSE;
  }
  if (g_str_equal(p[0], "jobs") && parse_id(p[1], &r->id)) {
    static const struct {
      const char *name;
      endpoint_t ep;
    } actions[] = {{"hold", EP_HOLD},       {"release", EP_RELEASE}, {"cancel", EP_CANCEL},
                   {"resolve", EP_RESOLVE}, {"reprint", EP_REPRINT}, {"preview", EP_PREVIEW}};
    if (n == 2) {
      *ep = EP_JOB;
      return TRUE;
    }
    for (guint i = 0; n == 3 && i < G_N_ELEMENTS(actions); i++)
      if (g_str_equal(p[2], actions[i].name)) {
        *ep = actions[i].ep;
        return TRUE;
      }
    return FALSE;
  }
  if (n == 2 && g_str_equal(p[0], "batches") && parse_id(p[1], &r->id)) {
    *ep = EP_BATCH;
    return TRUE;
  }
  if (g_str_equal(p[0], "cards") && n >= 3 && *p[1] && parse_id(p[2], &r->id)) {
    r->authority = g_strdup(p[1]);
    if (n == 3)
      *ep = EP_CARD;
    else if (n == 4 && g_str_equal(p[3], "void"))
      *ep = EP_VOID;
    else
      return FALSE;
    return TRUE;
  }
  if (n == 2 && g_str_equal(p[0], "audit") && g_str_equal(p[1], "verify")) {
    *ep = EP_AUDIT_VERIFY;
    return TRUE;
  }
  if (n == 2 && g_str_equal(p[0], "tokens") && operator_name_ok(p[1])) {
    r->name = g_strdup(p[1]);
    *ep = EP_TOKEN;
    return TRUE;
  }
  return FALSE;
}

static void handle(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                   gpointer data) {
  cs_server_t *s = data;
  request_t r = {
      .server = s,
      .msg = msg,
      .method = soup_server_message_get_method(msg),
      .path = path,
      .query = query,
  };
  r.peer = identify_peer(s, msg, &r.local_admin);
  endpoint_t ep;
  if (!g_utf8_validate(path, -1, NULL) || !parse_path(&r, &ep)) {
    g_autofree char *shown = quote_input(path);
    fail(&r, SOUP_STATUS_NOT_FOUND, NULL, "no such path: %s", shown);
  } else {
    /* HEAD is GET without the body (libsoup leaves it out) */
    const char *method = g_str_equal(r.method, "HEAD") ? "GET" : r.method;
    const route_t *route = NULL;
    g_autoptr(GString) allow = g_string_new(NULL);
    for (guint i = 0; i < G_N_ELEMENTS(routes); i++) {
      if (routes[i].endpoint != ep)
        continue;
      g_string_append_printf(allow, "%s%s", allow->len ? ", " : "", routes[i].method);
      if (g_str_equal(routes[i].method, method))
        route = &routes[i];
    }
    if (route == NULL) {
      soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                   allow->str);
      g_autofree char *shown = quote_input(r.method);
      fail(&r, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL, "%s is not allowed here, only %s", shown,
           allow->str);
    } else if (route->roles == NO_AUTH || authorize(&r, route->roles)) {
      route->handler(&r);
    }
  }
  g_free(r.peer);
  g_free(r.actor);
  g_free(r.authority);
  g_free(r.name);
}

/* ---- body limits, before the body is read ---- */

/* A connection taken from libsoup to answer 413 while the client may still be sending. */
typedef struct {
  GIOStream *stream;
  GBytes *answer;
  GCancellable *cancel;
  GSource *timer;
  gsize drained;
  guint8 buffer[16384];
} refusal_t;

static void refusal_free(refusal_t *f) {
  if (f->timer) {
    g_source_destroy(f->timer);
    g_source_unref(f->timer);
  }
  g_object_unref(f->cancel);
  g_bytes_unref(f->answer);
  g_object_unref(f->stream);
  g_free(f);
}

static void refusal_closed(GObject *source, GAsyncResult *result, gpointer data) {
  g_io_stream_close_finish(G_IO_STREAM(source), result, NULL);
  refusal_free(data);
}

static void refusal_close(refusal_t *f) {
  g_io_stream_close_async(f->stream, G_PRIORITY_DEFAULT, NULL, refusal_closed, f);
}

static void refusal_drained(GObject *source, GAsyncResult *result, gpointer data) {
  refusal_t *f = data;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, NULL);
  if (n > 0 && (f->drained += (gsize)n) < DRAIN_BYTES) {
    g_input_stream_read_async(G_INPUT_STREAM(source), f->buffer, sizeof f->buffer,
                              G_PRIORITY_DEFAULT, f->cancel, refusal_drained, f);
    return;
  }
  refusal_close(f);
}

static gboolean refusal_timeout(gpointer data) {
  g_cancellable_cancel(data);
  return G_SOURCE_REMOVE;
}

static void refusal_written(GObject *source, GAsyncResult *result, gpointer data) {
  refusal_t *f = data;
  if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, NULL)) {
    refusal_close(f);
    return;
  }
  /* plain TCP or Unix: half-close, so the client sees the whole answer now */
  if (G_IS_SOCKET_CONNECTION(f->stream))
    g_socket_shutdown(g_socket_connection_get_socket(G_SOCKET_CONNECTION(f->stream)), FALSE,
                      TRUE, NULL);
  f->timer = g_timeout_source_new_seconds(DRAIN_SECONDS);
  g_source_set_callback(f->timer, refusal_timeout, f->cancel, NULL);
  g_source_attach(f->timer, g_main_context_get_thread_default());
  g_input_stream_read_async(g_io_stream_get_input_stream(f->stream), f->buffer,
                            sizeof f->buffer, G_PRIORITY_DEFAULT, f->cancel, refusal_drained, f);
}

/* Answers 413 at once, on a connection taken over from libsoup (which would otherwise read the
 * whole body first), and audits it. */
static void refuse_too_large(cs_server_t *s, SoupServerMessage *msg, gsize limit) {
  gboolean local_admin = FALSE;
  g_autofree char *peer = identify_peer(s, msg, &local_admin);
  g_autofree char *method = quote_input(soup_server_message_get_method(msg));
  g_autofree char *path = quote_input(g_uri_get_path(soup_server_message_get_uri(msg)));
  g_autofree char *object = g_strdup_printf("%s %s", method, path);
  g_autofree char *message =
      g_strdup_printf("the body is over the limit of %" G_GSIZE_FORMAT " bytes", limit);
  g_autofree char *details =
      refusal_details(SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, message, peer);
  audit(s, peer, "api.refused", object, details);

  g_autofree char *body = error_body(SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL, message, NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  g_autofree char *date = soup_date_time_to_string(now, SOUP_DATE_HTTP);
  char *answer = g_strdup_printf("HTTP/1.1 413 Payload Too Large\r\n"
                                 "Date: %s\r\n"
                                 "Content-Type: application/json\r\n"
                                 "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                 "Connection: close\r\n\r\n%s",
                                 date, strlen(body), body);
  g_autoptr(GIOStream) stolen = soup_server_message_steal_connection(msg);
  if (stolen == NULL) {
    g_free(answer);
    return;
  }
  refusal_t *f = g_new0(refusal_t, 1);
  f->answer = g_bytes_new_take(answer, strlen(answer));
  f->cancel = g_cancellable_new();
  /* libsoup's wrapper does not close the connection under it */
  GIOStream *base = NULL;
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(stolen), "base-iostream"))
    g_object_get(stolen, "base-iostream", &base, NULL);
  f->stream = base ? base : g_object_ref(stolen);
  gsize length = 0;
  const void *bytes = g_bytes_get_data(f->answer, &length);
  g_output_stream_write_all_async(g_io_stream_get_output_stream(f->stream), bytes, length,
                                  G_PRIORITY_DEFAULT, NULL, refusal_written, f);
}

typedef struct {
  cs_server_t *server;
  gsize limit;
  gsize received;
  gboolean refused;
} body_limit_t;

static void got_chunk(SoupServerMessage *msg, GBytes *chunk, gpointer data) {
  body_limit_t *bl = data;
  if (bl->refused)
    return;
  bl->received += g_bytes_get_size(chunk);
  if (bl->received > bl->limit) {
    bl->refused = TRUE;
    refuse_too_large(bl->server, msg, bl->limit);
  }
}

static void early(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                  gpointer data) {
  cs_server_t *s = data;
  gsize limit = g_strcmp0(path, "/v1/batches") == 0 ? s->config->max_batch_bytes
                                                     : s->config->max_job_bytes;
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH) {
    goffset length = soup_message_headers_get_content_length(h);
    if (length >= 0 && (guint64)length > limit)
      refuse_too_large(s, msg, limit);
    return;
  }
  /* chunked: counted as it arrives, cut off at the limit */
  body_limit_t *bl = g_new0(body_limit_t, 1);
  bl->server = s;
  bl->limit = limit;
  g_object_set_data_full(G_OBJECT(msg), "cs-body-limit", bl, g_free);
  g_signal_connect(msg, "got-chunk", G_CALLBACK(got_chunk), bl);
}

/* ---- listening ---- */

/* TRUE when something answers on the socket file (another daemon). */
static gboolean socket_in_use(const char *path) {
  g_autoptr(GSocket) probe =
      g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(path);
  return probe && g_socket_connect(probe, address, NULL, NULL);
}

static gboolean listen_unix(cs_server_t *s, const char *path, GError **error) {
  GStatBuf st;
  if (g_lstat(path, &st) == 0) {
    /* a socket left by a daemon that died is replaced; nothing else is */
    if (!S_ISSOCK(st.st_mode)) {
      g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s exists and is not a socket", path);
      return FALSE;
    }
    if (socket_in_use(path)) {
      g_set_error(error, CS_ERROR, CS_ERROR_IO, "another daemon is listening on %s", path);
      return FALSE;
    }
    g_unlink(path);
  }
  g_autoptr(GSocket) socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return FALSE;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(path);
  if (!g_socket_bind(socket, address, FALSE, error))
    return FALSE;
  /* before listen(): nobody connects while the mode is still the umask's */
  if (g_chmod(path, 0660) != 0 || g_lstat(path, &st) != 0) {
    int e = errno;
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s: %s", path, g_strerror(e));
    g_unlink(path);
    return FALSE;
  }
  s->socket_path = g_strdup(path);
  s->socket_dev = st.st_dev;
  s->socket_ino = st.st_ino;
  return g_socket_listen(socket, error) && soup_server_listen_socket(s->soup, socket, 0, error);
}

static gboolean listen_tcp(cs_server_t *s, const char *listen, gboolean https, GError **error) {
  g_autoptr(GSocketConnectable) where = g_network_address_parse(listen, 8631, error);
  if (where == NULL)
    return FALSE;
  g_autoptr(GSocketAddressEnumerator) addresses = g_socket_connectable_enumerate(where);
  g_autoptr(GSocketAddress) address = g_socket_address_enumerator_next(addresses, NULL, error);
  if (address == NULL) {
    if (error && *error == NULL)
      g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s names no address", listen);
    return FALSE;
  }
  if (!soup_server_listen(s->soup, address, https ? SOUP_SERVER_LISTEN_HTTPS : 0, error))
    return FALSE;
  GSList *listeners = soup_server_get_listeners(s->soup);
  for (GSList *l = listeners; l && s->address == NULL; l = l->next) {
    GSocket *socket = l->data;
    if (g_socket_get_family(socket) == G_SOCKET_FAMILY_UNIX)
      continue;
    g_autoptr(GSocketAddress) local = g_socket_get_local_address(socket, NULL);
    if (local == NULL || !G_IS_INET_SOCKET_ADDRESS(local))
      continue;
    GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS(local);
    GInetAddress *ip = g_inet_socket_address_get_address(inet);
    g_autofree char *host = g_inet_address_to_string(ip);
    guint port = g_inet_socket_address_get_port(inet);
    s->address = g_inet_address_get_family(ip) == G_SOCKET_FAMILY_IPV6
                     ? g_strdup_printf("[%s]:%u", host, port)
                     : g_strdup_printf("%s:%u", host, port);
  }
  g_slist_free(listeners);
  return TRUE;
}

/* glib-networking leaves every client certificate to the server to accept, even one that
 * verified against the database: accept exactly those. */
static gboolean accept_client_certificate(SoupServerMessage *msg, GTlsCertificate *certificate,
                                          GTlsCertificateFlags errors, gpointer data) {
  return errors == 0;
}

static void request_started(SoupServer *soup, SoupServerMessage *msg, gpointer data) {
  g_signal_connect(msg, "accept-certificate", G_CALLBACK(accept_client_certificate), NULL);
}

/* libsoup 3.2 (Debian 12) never frees a keep-alive connection that its client closes between
 * two requests (fixed upstream in libsoup d20c6601): each one kept a descriptor until, after
 * about a thousand commands, the daemon could open no file. Every answer closes its
 * connection instead; clients here make one request per connection anyway. */
static void close_after_answer(SoupServer *soup, SoupServerMessage *msg, gpointer data) {
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                               "close");
}

static gboolean setup_tls(cs_server_t *s, GError **error) {
  const cs_daemon_config_t *c = s->config;
  g_autoptr(GTlsCertificate) cert =
      c->tls_key && *c->tls_key ? g_tls_certificate_new_from_files(c->tls_cert, c->tls_key, error)
                                : g_tls_certificate_new_from_file(c->tls_cert, error);
  if (cert == NULL)
    return FALSE;
  soup_server_set_tls_certificate(s->soup, cert);
  if (c->tls_client_ca && *c->tls_client_ca) {
    /* client certificates are a gate in front of the tokens, not a replacement */
    g_autoptr(GTlsDatabase) db = g_tls_file_database_new(c->tls_client_ca, error);
    if (db == NULL)
      return FALSE;
    soup_server_set_tls_database(s->soup, db);
    soup_server_set_tls_auth_mode(s->soup, G_TLS_AUTHENTICATION_REQUIRED);
    g_signal_connect(s->soup, "request-started", G_CALLBACK(request_started), NULL);
  }
  return TRUE;
}

cs_server_t *cs_server_start(const cs_daemon_config_t *config, cs_store_t *store,
                             cs_spooler_t *spooler, GError **error) {
  g_return_val_if_fail(config != NULL && store != NULL, NULL);
  gboolean on_socket = config->socket_path && *config->socket_path;
  gboolean on_tcp = config->listen && *config->listen;
  if (!on_socket && !on_tcp) {
    g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                "the API has nothing to listen on: both socket and listen are empty");
    return NULL;
  }
  cs_server_t *s = g_new0(cs_server_t, 1);
  s->config = config;
  s->store = store;
  s->spooler = spooler;
  s->layouts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify)cs_layout_free);
  s->catalogue = cs_catalogue_load_default(error);
  if (s->catalogue == NULL) {
    cs_server_stop(s);
    return NULL;
  }
  s->soup = soup_server_new(NULL, NULL);
  soup_server_add_early_handler(s->soup, NULL, early, s, NULL);
  soup_server_add_handler(s->soup, NULL, handle, s, NULL);
  g_signal_connect(s->soup, "request-started", G_CALLBACK(close_after_answer), NULL);
  gboolean https = on_tcp && config->tls_cert && *config->tls_cert;
  g_autoptr(GError) local = NULL;
  gboolean ok = (!https || setup_tls(s, &local)) &&
                (!on_socket || listen_unix(s, config->socket_path, &local)) &&
                (!on_tcp || listen_tcp(s, config->listen, https, &local));
  if (!ok) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot start the API: %s", local->message);
    cs_server_stop(s);
    return NULL;
  }
  return s;
}

const char *cs_server_address(cs_server_t *server) { return server->address; }

void cs_server_stop(cs_server_t *s) {
  if (s == NULL)
    return;
  if (s->soup) {
    soup_server_disconnect(s->soup);
    g_object_unref(s->soup);
  }
  GStatBuf st;
  /* only our own socket: a newer daemon may have replaced it */
  if (s->socket_path && g_lstat(s->socket_path, &st) == 0 && st.st_dev == s->socket_dev &&
      st.st_ino == s->socket_ino)
    g_unlink(s->socket_path);
  g_free(s->socket_path);
  g_free(s->address);
  g_clear_pointer(&s->trust, cs_trust_free);
  g_clear_pointer(&s->renderer, cs_renderer_free);
  g_hash_table_unref(s->layouts);
  g_clear_pointer(&s->catalogue, cs_catalogue_free);
  g_free(s);
}

/* ---- connections from elsewhere (tests/fuzz/fuzz-api-request.c) ---- */

gboolean cs_server_accept_stream(cs_server_t *s, GIOStream *stream, GSocketAddress *remote,
                                 GError **error) {
  g_return_val_if_fail(s != NULL && G_IS_IO_STREAM(stream) && G_IS_SOCKET_ADDRESS(remote),
                       FALSE);
  /* libsoup wants both ends' addresses; the handlers only look at the remote one */
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new_from_string("127.0.0.1", 0);
  return soup_server_accept_iostream(s->soup, stream, local, remote, error);
}
