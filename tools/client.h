/* A small synchronous HTTP client for cardspoold's API (docs/api.md), shared by the cardspool
 * subcommands that talk to the daemon. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "record.h"

G_BEGIN_DECLS

/* The options every daemon command takes. */
typedef struct {
  char *server;     /* --server: "unix:/path/sock" or "http(s)://host:port" */
  char *token_file; /* --token-file */
  gboolean json;    /* --json: print the API's JSON as it is */
} cs_client_options_t;

/* Adds --server, --token-file and --json to the context's main group. */
void cs_client_add_options(GOptionContext *ctx, cs_client_options_t *options);
void cs_client_options_clear(cs_client_options_t *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(cs_client_options_t, cs_client_options_clear)

/* Where the daemon listens when neither --server nor CARDSPOOL_SERVER says: "unix:" + the
 * default state folder's cardspoold.sock, by the daemon's own rule. */
char *cs_client_default_server(void);

typedef struct cs_client cs_client_t;

/* The server from options, else $CARDSPOOL_SERVER, else the default; the token from
 * --token-file (refused when group or world may read it), else $CARDSPOOL_TOKEN, else none
 * (root on the Unix socket needs none). CS_ERROR_IO for the token file;
 * G_IO_ERROR_INVALID_ARGUMENT for a server that is neither unix: nor http(s)://. */
cs_client_t *cs_client_new(const cs_client_options_t *options, GError **error);
void cs_client_free(cs_client_t *client);
const char *cs_client_server(const cs_client_t *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_client_t, cs_client_free)

/* An answer of the daemon, whatever its status. */
typedef struct {
  guint status;   /* HTTP status */
  GBytes *body;   /* never NULL */
  JsonNode *json; /* the body parsed, when it is JSON; else NULL */
} cs_reply_t;

void cs_reply_free(cs_reply_t *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_reply_t, cs_reply_free)

gboolean cs_reply_ok(const cs_reply_t *reply); /* 2xx */
/* The body's root object, or NULL. */
JsonObject *cs_reply_root(const cs_reply_t *reply);
/* The root object's member as an object, or NULL. */
JsonObject *cs_reply_object(const cs_reply_t *reply, const char *member);
/* The body on stdout as it came, ending with a newline (--json). */
void cs_reply_print_raw(const cs_reply_t *reply);

/* Bytes of the request body sent so far, of total. */
typedef void (*cs_client_progress_fn)(goffset sent, goffset total, gpointer user_data);

/* One request. path: "/v1/jobs?state=queued" (query already escaped). body may be NULL.
 * idempotency_key may be NULL. NULL with error only when no answer came (not reachable,
 * connection lost, timeout); an HTTP error status is a reply. */
cs_reply_t *cs_client_call(cs_client_t *client, const char *method, const char *path,
                           const char *content_type, GBytes *body, const char *idempotency_key,
                           GError **error);
/* As cs_client_call(), the body read from a stream of known length, with progress. */
cs_reply_t *cs_client_call_stream(cs_client_t *client, const char *method, const char *path,
                                  const char *content_type, GInputStream *body, goffset length,
                                  const char *idempotency_key, cs_client_progress_fn progress,
                                  gpointer user_data, GError **error);

/* "cardspool CMD: CODE: message (field)" on stderr for an error reply (or "HTTP STATUS" when
 * its body is not the API's error object); returns the exit code: CS_EXIT_INVALID for 422,
 * CS_EXIT_DAEMON otherwise. */
int cs_client_print_error(const char *cmd, const cs_reply_t *reply);
/* "cardspool CMD: cannot reach the daemon at SERVER: why" on stderr; returns CS_EXIT_DAEMON. */
int cs_client_print_unreachable(const char *cmd, const cs_client_t *client, const GError *error);

/* The job as the daemon takes it: one line of compact JSON with the photo embedded (a path is
 * read relative to the record's base_dir, and dropped). NULL with the reason (CS_ERROR_IO,
 * CS_ERROR_TOO_LARGE) when the photo cannot be read. */
char *cs_client_job_body(cs_job_t *job, GError **error);

/* Lowercase hex SHA-256 of data (Idempotency-Key values). */
char *cs_client_sha256_hex(const void *data, gsize length);

/* A string member of o, or NULL when absent, null or not a string (o may be NULL). */
const char *cs_json_string(JsonObject *o, const char *member);
/* An object member of o, or NULL when absent or not an object (o may be NULL). */
JsonObject *cs_json_object(JsonObject *o, const char *member);
/* An array member of o, or NULL when absent or not an array (o may be NULL). */
JsonArray *cs_json_array(JsonObject *o, const char *member);
/* Element i of a as an object, or NULL when it is not one. */
JsonObject *cs_json_array_object(JsonArray *a, guint i);
/* An integer member of o, or 0 when absent, null or not a number (o may be NULL). */
gint64 cs_json_int(JsonObject *o, const char *member);

G_END_DECLS
