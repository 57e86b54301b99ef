/* The daemon's HTTP client on libsoup's synchronous API. On the Unix socket the session's every
 * connection goes to the socket ("remote-connectable"), so URLs name only the path. */
#include "client.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>

#include "cardspool.h"
#include "commands.h"
#include "config.h"
#include "i18n.h"

/* A token is one line of printable ASCII; anything else would be a header injection. */
#define TOKEN_MAX_BYTES 4096
/* The daemon validates a whole batch before it answers: long, not hung. */
#define IO_TIMEOUT_SECONDS 600

struct cs_client {
  SoupSession *session;
  char *server; /* as given, for messages */
  char *base;   /* "http://localhost" on the socket, else the URL without a trailing slash */
  char *token;  /* NULL: none */
};

void cs_client_add_options(GOptionContext *ctx, cs_client_options_t *options) {
  GOptionEntry entries[] = {
      {"server", 0, 0, G_OPTION_ARG_STRING, &options->server,
       N_("the daemon: unix:/PATH/SOCKET or http(s)://HOST:PORT (default: $CARDSPOOL_SERVER, "
          "else the local daemon's socket)"),
       "URL"},
      {"token-file", 0, 0, G_OPTION_ARG_FILENAME, &options->token_file,
       N_("read the bearer token from FILE, which only its owner may read (default: "
          "$CARDSPOOL_TOKEN)"),
       "FILE"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &options->json,
       N_("print the daemon's JSON answer as it is, for scripts"), NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
}

void cs_client_options_clear(cs_client_options_t *options) {
  g_clear_pointer(&options->server, g_free);
  g_clear_pointer(&options->token_file, g_free);
}

/* The daemon's rule (daemon-config.c): $STATE_DIRECTORY (its first folder), else
 * /var/lib/cardspool for root, else the user's state folder. */
char *cs_client_default_server(void) {
  g_autofree char *dir = NULL;
  const char *sd = g_getenv("STATE_DIRECTORY");
  if (sd && *sd) {
    g_auto(GStrv) dirs = g_strsplit(sd, ":", 2);
    dir = g_strdup(dirs[0]);
  } else if (geteuid() == 0) {
    dir = g_strdup("/var/lib/cardspool");
  } else {
    dir = g_build_filename(g_get_user_state_dir(), "cardspool", NULL);
  }
  g_autofree char *socket = g_build_filename(dir, "cardspoold.sock", NULL);
  return g_strconcat("unix:", socket, NULL);
}

static gboolean token_is_clean(const char *token) {
  if (*token == 0)
    return FALSE;
  for (const char *p = token; *p; p++)
    if (*p <= ' ' || *p > '~')
      return FALSE;
  return TRUE;
}

static char *read_token(const cs_client_options_t *options, GError **error) {
  g_autofree char *token = NULL;
  const char *origin = NULL;
  if (options->token_file) {
    g_autoptr(GBytes) bytes = cs_file_read_secret(options->token_file, TOKEN_MAX_BYTES, error);
    if (bytes == NULL)
      return NULL;
    gsize len = 0;
    const char *data = g_bytes_get_data(bytes, &len);
    token = g_strstrip(g_strndup(data, len));
    origin = options->token_file;
  } else {
    const char *env = g_getenv("CARDSPOOL_TOKEN");
    if (env == NULL || *env == 0)
      return NULL;
    token = g_strstrip(g_strdup(env));
    origin = "CARDSPOOL_TOKEN";
  }
  if (!token_is_clean(token)) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO,
                _("%s does not hold a token (one line of printable characters)"), origin);
    return NULL;
  }
  return g_steal_pointer(&token);
}

cs_client_t *cs_client_new(const cs_client_options_t *options, GError **error) {
  const char *server = options->server;
  if (server == NULL || *server == 0)
    server = g_getenv("CARDSPOOL_SERVER");
  g_autofree char *fallback = NULL;
  if (server == NULL || *server == 0)
    server = fallback = cs_client_default_server();

  g_autoptr(GError) token_error = NULL;
  g_autofree char *token = read_token(options, &token_error);
  if (token_error) {
    g_propagate_error(error, g_steal_pointer(&token_error));
    return NULL;
  }

  SoupSession *session = NULL;
  g_autofree char *base = NULL;
  if (g_str_has_prefix(server, "unix:") && server[5] != 0) {
    g_autoptr(GSocketAddress) address = g_unix_socket_address_new(server + 5);
    /* no proxy: a proxy could never reach a local socket */
    session =
        soup_session_new_with_options("remote-connectable", address, "proxy-resolver", NULL, NULL);
    base = g_strdup("http://localhost");
  } else if (g_str_has_prefix(server, "http://") || g_str_has_prefix(server, "https://")) {
    g_autoptr(GUri) uri = g_uri_parse(server, SOUP_HTTP_URI_FLAGS, NULL);
    if (uri == NULL || g_uri_get_host(uri) == NULL || *g_uri_get_host(uri) == 0) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                  _("“%s” is not a daemon address: unix:/PATH/SOCKET or http(s)://HOST:PORT"),
                  server);
      return NULL;
    }
    session = soup_session_new();
    base = g_strdup(server);
    gsize n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
      base[--n] = 0;
  } else {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                _("“%s” is not a daemon address: unix:/PATH/SOCKET or http(s)://HOST:PORT"),
                server);
    return NULL;
  }
  g_object_set(session, "timeout", IO_TIMEOUT_SECONDS, "user-agent", "cardspool/" CS_VERSION, NULL);
  cs_client_t *client = g_new0(cs_client_t, 1);
  client->session = session;
  client->server = g_strdup(server);
  client->base = g_steal_pointer(&base);
  client->token = g_steal_pointer(&token);
  return client;
}

void cs_client_free(cs_client_t *client) {
  if (client == NULL)
    return;
  g_clear_object(&client->session);
  g_free(client->server);
  g_free(client->base);
  if (client->token)
    memset(client->token, 0, strlen(client->token));
  g_free(client->token);
  g_free(client);
}

const char *cs_client_server(const cs_client_t *client) { return client->server; }

void cs_reply_free(cs_reply_t *reply) {
  if (reply == NULL)
    return;
  g_bytes_unref(reply->body);
  if (reply->json)
    json_node_unref(reply->json);
  g_free(reply);
}

gboolean cs_reply_ok(const cs_reply_t *reply) {
  return reply->status >= 200 && reply->status < 300;
}

JsonObject *cs_reply_root(const cs_reply_t *reply) {
  return reply->json && JSON_NODE_HOLDS_OBJECT(reply->json) ? json_node_get_object(reply->json)
                                                            : NULL;
}

JsonObject *cs_reply_object(const cs_reply_t *reply, const char *member) {
  return cs_json_object(cs_reply_root(reply), member);
}

void cs_reply_print_raw(const cs_reply_t *reply) {
  gsize len = 0;
  const char *data = g_bytes_get_data(reply->body, &len);
  if (len == 0)
    return;
  fwrite(data, 1, len, stdout);
  if (data[len - 1] != '\n')
    fputc('\n', stdout);
}

static SoupMessage *new_message(cs_client_t *client, const char *method, const char *path,
                                const char *idempotency_key, GError **error) {
  g_autofree char *url = g_strconcat(client->base, path, NULL);
  g_autoptr(GUri) uri = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, error);
  if (uri == NULL)
    return NULL;
  SoupMessage *msg = soup_message_new_from_uri(method, uri);
  SoupMessageHeaders *h = soup_message_get_request_headers(msg);
  soup_message_headers_replace(h, "Accept", "application/json");
  if (client->token) {
    g_autofree char *auth = g_strconcat("Bearer ", client->token, NULL);
    soup_message_headers_replace(h, "Authorization", auth);
  }
  if (idempotency_key)
    soup_message_headers_replace(h, "Idempotency-Key", idempotency_key);
  return msg;
}

static cs_reply_t *send_message(cs_client_t *client, SoupMessage *msg, GError **error) {
  GBytes *body = soup_session_send_and_read(client->session, msg, NULL, error);
  if (body == NULL)
    return NULL;
  cs_reply_t *reply = g_new0(cs_reply_t, 1);
  reply->status = soup_message_get_status(msg);
  reply->body = body;
  const char *type =
      soup_message_headers_get_content_type(soup_message_get_response_headers(msg), NULL);
  gsize len = 0;
  const char *data = g_bytes_get_data(body, &len);
  if (type && g_str_equal(type, "application/json") && len > 0) {
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    if (json_parser_load_from_data(parser, data, (gssize)len, NULL))
      reply->json = json_node_ref(json_parser_get_root(parser));
  }
  return reply;
}

cs_reply_t *cs_client_call(cs_client_t *client, const char *method, const char *path,
                           const char *content_type, GBytes *body, const char *idempotency_key,
                           GError **error) {
  g_autoptr(SoupMessage) msg = new_message(client, method, path, idempotency_key, error);
  if (msg == NULL)
    return NULL;
  if (body)
    soup_message_set_request_body_from_bytes(msg, content_type, body);
  return send_message(client, msg, error);
}

typedef struct {
  goffset sent, total;
  cs_client_progress_fn fn;
  gpointer user_data;
} progress_t;

static void on_wrote_body_data(SoupMessage *msg, guint chunk_size, gpointer user_data) {
  progress_t *p = user_data;
  p->sent += chunk_size;
  p->fn(p->sent, p->total, p->user_data);
}

cs_reply_t *cs_client_call_stream(cs_client_t *client, const char *method, const char *path,
                                  const char *content_type, GInputStream *body, goffset length,
                                  const char *idempotency_key, cs_client_progress_fn progress,
                                  gpointer user_data, GError **error) {
  g_autoptr(SoupMessage) msg = new_message(client, method, path, idempotency_key, error);
  if (msg == NULL)
    return NULL;
  soup_message_set_request_body(msg, content_type, body, length);
  progress_t p = {0, length, progress, user_data};
  if (progress)
    g_signal_connect(msg, "wrote-body-data", G_CALLBACK(on_wrote_body_data), &p);
  cs_reply_t *reply = send_message(client, msg, error);
  if (progress)
    g_signal_handlers_disconnect_by_data(msg, &p);
  return reply;
}

int cs_client_print_error(const char *cmd, const cs_reply_t *reply) {
  JsonObject *e = cs_reply_object(reply, "error");
  const char *code = cs_json_string(e, "code");
  const char *message = cs_json_string(e, "message");
  const char *field = cs_json_string(e, "field");
  if (code == NULL)
    fprintf(stderr, "cardspool %s: HTTP %u %s\n", cmd, reply->status,
            soup_status_get_phrase(reply->status));
  else if (field)
    fprintf(stderr, "cardspool %s: %s: %s (%s)\n", cmd, code, message ? message : "", field);
  else
    fprintf(stderr, "cardspool %s: %s: %s\n", cmd, code, message ? message : "");
  /* a full or read-only state directory: the operator fixes it, then simply runs it again */
  if (reply->status == SOUP_STATUS_INSUFFICIENT_STORAGE ||
      reply->status == SOUP_STATUS_SERVICE_UNAVAILABLE)
    fprintf(stderr, _("cardspool %s: the daemon cannot record anything now; run the same command "
                      "again once it can (a submission sent again is never stored twice)\n"),
            cmd);
  return reply->status == SOUP_STATUS_UNPROCESSABLE_ENTITY ? CS_EXIT_INVALID : CS_EXIT_DAEMON;
}

int cs_client_print_unreachable(const char *cmd, const cs_client_t *client, const GError *error) {
  fprintf(stderr, _("cardspool %s: cannot reach the daemon at %s: %s\n"), cmd, client->server,
          error->message);
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
      g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    fprintf(stderr, _("Is cardspoold running? --server or CARDSPOOL_SERVER names another "
                      "daemon.\n"));
  return CS_EXIT_DAEMON;
}

char *cs_client_job_body(cs_job_t *job, GError **error) {
  cs_record_t *r = job->record;
  if (r->photo.data == NULL && r->photo.path) {
    cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
    r->photo.data = cs_record_load_photo(r, limits.max_bytes, error);
    if (r->photo.data == NULL)
      return NULL;
  }
  g_clear_pointer(&r->photo.path, g_free);
  g_autoptr(JsonNode) node = cs_job_to_json(job);
  return json_to_string(node, FALSE);
}

char *cs_client_sha256_hex(const void *data, gsize length) {
  return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, length);
}

const char *cs_json_string(JsonObject *o, const char *member) {
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
             ? json_node_get_string(n)
             : NULL;
}

gint64 cs_json_int(JsonObject *o, const char *member) {
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
    return 0;
  GType t = json_node_get_value_type(n);
  if (t == G_TYPE_INT64)
    return json_node_get_int(n);
  if (t == G_TYPE_DOUBLE)
    return (gint64)json_node_get_double(n);
  return 0;
}

JsonArray *cs_json_array(JsonObject *o, const char *member) {
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

JsonObject *cs_json_array_object(JsonArray *a, guint i) {
  JsonNode *n = a && i < json_array_get_length(a) ? json_array_get_element(a, i) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

JsonObject *cs_json_object(JsonObject *o, const char *member) {
  JsonNode *n = o ? json_object_get_member(o, member) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}
