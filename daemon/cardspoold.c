/* cardspoold: the spooler daemon. It keeps issuance jobs in a durable store, prints them on
 * its printers and answers the HTTP API (docs/api.md, docs/daemon.md).
 *
 * Design notes (the CUPS scheduler's habit: the reasoning sits beside the code it governs):
 * - Every job state is committed before the action it allows (lib/store.h): a serial is
 *   allocated before it is signed, a job is marked printing before the driver is called. So
 *   after a crash the store tells exactly what may have happened, and the start-up recovery
 *   turns every job left printing into needs-attention instead of printing it again.
 * - The store is the only shared state. The API thread and each printer's worker have their
 *   own connection; SQLite (WAL, synchronous=FULL) serialises writers, so several daemons or
 *   tools may share one store file.
 * - SIGTERM: the API stops taking requests, each worker finishes the card it is printing and
 *   records its outcome, jobs not started stay queued for the next start.
 * - Every file a card needs (layouts, signing keys, trust) is loaded before the store is
 *   touched, the pinned fonts by the spooler's workers before the API listens: a damaged one
 *   stops the daemon at start, naming it, rather than failing jobs.
 * - A full or read-only state directory is not fatal: the API refuses what it cannot record
 *   (507/503, server.c), workers retry, and the same warning repeated every second is folded
 *   in the log (log_writer) so the fault does not bury everything else. */
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cardspool.h"
#include "config.h" /* CS_VERSION */
#include "daemon-config.h"
#include "server.h"
#include "spooler.h"
#include "store.h"

/* ---- the log: a line repeated within a minute is written at most LOG_REPEATS times; the
 * rest are counted and the count goes with the next one written ---- */

#define LOG_WINDOW_US (60 * G_USEC_PER_SEC)
#define LOG_REPEATS 3
#define LOG_REMEMBER 512 /* distinct lines kept; more and the oldest window is forgotten */

typedef struct {
  gint64 window_start;
  guint written, folded;
} log_line_t;

static GMutex log_lock;
static GHashTable *log_lines; /* message text -> log_line_t */

static const char *log_message(const GLogField *fields, gsize n) {
  for (gsize i = 0; i < n; i++)
    if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                   gpointer data) {
  const char *text = log_message(fields, n);
  if (text == NULL || !(level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE)))
    return g_log_writer_default(level, fields, n, data);
  gint64 now = g_get_monotonic_time();
  guint folded = 0;
  g_mutex_lock(&log_lock);
  if (log_lines == NULL || g_hash_table_size(log_lines) > LOG_REMEMBER) {
    g_clear_pointer(&log_lines, g_hash_table_unref);
    log_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  }
  log_line_t *line = g_hash_table_lookup(log_lines, text);
  if (line == NULL) {
    line = g_new0(log_line_t, 1);
    line->window_start = now;
    g_hash_table_insert(log_lines, g_strdup(text), line);
  } else if (now - line->window_start >= LOG_WINDOW_US) {
    folded = line->folded;
    line->window_start = now;
    line->written = line->folded = 0;
  }
  gboolean write = line->written < LOG_REPEATS;
  if (write)
    line->written++;
  else
    line->folded++;
  g_mutex_unlock(&log_lock);
  if (!write)
    return G_LOG_WRITER_HANDLED;
  if (folded == 0)
    return g_log_writer_default(level, fields, n, data);
  g_autofree char *more = g_strdup_printf("%s (and %u more times in the minute before)", text,
                                          folded);
  g_autofree GLogField *copy = g_memdup2(fields, n * sizeof *fields);
  for (gsize i = 0; i < n; i++)
    if (copy[i].value == text)
      copy[i].value = more;
  return g_log_writer_default(level, copy, n, data);
}

static gboolean on_signal(gpointer loop) {
  g_message("stopping: finishing the cards in progress");
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

static int add_token(const cs_daemon_config_t *config, char **args) {
  if (args == NULL || args[0] == NULL || args[1] == NULL || args[2] != NULL) {
    fprintf(stderr, "cardspoold: --add-token needs OPERATOR ROLE[,ROLE…]\n");
    return 2;
  }
  guint roles = 0;
  g_auto(GStrv) names = g_strsplit(args[1], ",", -1);
  for (guint i = 0; names[i]; i++) {
    cs_role_t role;
    if (!cs_role_from_name(g_strstrip(names[i]), &role)) {
      fprintf(stderr, "cardspoold: “%s” is not a role (issuer, operator, qa, auditor, admin)\n",
              names[i]);
      return 2;
    }
    roles |= role;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_t) store = cs_store_open(config->store_path, &error);
  g_autofree char *token = store ? cs_store_add_token(store, args[0], roles, "cardspoold", &error)
                                 : NULL;
  if (token == NULL) {
    fprintf(stderr, "cardspoold: %s\n", error->message);
    return 1;
  }
  printf("%s\n", token);
  return 0;
}

static int print_config(const cs_daemon_config_t *config) {
  printf("state %s\nstore %s\nsocket %s\nlisten %s\nkeys %s\n", config->state_dir,
         config->store_path, *config->socket_path ? config->socket_path : "(none)",
         *config->listen ? config->listen : "(none)", config->key_dir);
  for (guint i = 0; i < config->printers->len; i++) {
    const cs_printer_config_t *p = config->printers->pdata[i];
    g_autofree char *s = cs_printer_settings_describe(&p->settings);
    printf("printer %s %s %s\n", p->name, p->uri, s);
  }
  printf("files ok: fonts, layouts, signing keys, trust\n");
  return 0;
}

/* Until SIGTERM or SIGINT. */
static int serve(const cs_daemon_config_t *config) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_t) store = cs_store_open(config->store_path, &error);
  if (store == NULL) {
    g_printerr("cardspoold: %s\n", error->message);
    if (strstr(error->message, "or damaged"))
      g_printerr("cardspoold: restore the store from a backup, or move it away to start with an "
                 "empty one (docs/daemon.md, Faults)\n");
    return 1;
  }
  /* jobs a stop left printing: the spooler recovers them before its workers or the API run */
  cs_spooler_t *spooler = cs_spooler_start(config, &error);
  if (spooler == NULL) {
    g_printerr("cardspoold: %s\n", error->message);
    return 1;
  }
  cs_server_t *server = cs_server_start(config, store, spooler, &error);
  if (server == NULL) {
    g_printerr("cardspoold: %s\n", error->message);
    cs_spooler_stop(spooler);
    return 1;
  }
  GMainLoop *loop = g_main_loop_new(NULL, FALSE);
  g_unix_signal_add(SIGTERM, on_signal, loop);
  g_unix_signal_add(SIGINT, on_signal, loop);
  g_message("cardspoold %s: store %s, socket %s, HTTP %s, %u printer(s)", CS_VERSION,
            config->store_path, *config->socket_path ? config->socket_path : "none",
            cs_server_address(server) ? cs_server_address(server) : "none",
            config->printers->len);
  g_main_loop_run(loop);
  cs_server_stop(server);
  cs_spooler_stop(spooler);
  g_main_loop_unref(loop);
  g_message("stopped");
  return 0;
}

int main(int argc, char **argv) {
  cs_memory_tune(); /* before any thread: io.h says why */
  setlocale(LC_ALL, "");
  g_log_set_writer_func(log_writer, NULL, NULL);
  g_autofree char *config_path = NULL, *state_dir = NULL, *listen = NULL, *socket = NULL;
  gboolean check = FALSE, version = FALSE, specimens = FALSE;
  g_auto(GStrv) token_args = NULL;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
       "configuration file (default: embedded defaults)", "FILE"},
      {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
       "state folder: store, socket, simulated printer", "DIR"},
      {"listen", 0, 0, G_OPTION_ARG_STRING, &listen, "HTTP address (\"\" for none)",
       "HOST:PORT"},
      {"socket", 0, 0, G_OPTION_ARG_FILENAME, &socket, "Unix socket (\"\" for none)", "PATH"},
      {"specimens", 0, 0, G_OPTION_ARG_NONE, &specimens,
       "print SPECIMEN cards for authorities without a key (demonstrations only)", NULL},
      {"add-token", 0, 0, G_OPTION_ARG_STRING_ARRAY, &token_args,
       "make a bearer token: --add-token OPERATOR --add-token ROLE[,ROLE…]; prints it once", NULL},
      {"check-config", 0, 0, G_OPTION_ARG_NONE, &check, "load the configuration and exit", NULL},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_summary(ctx, "The cardspool spooler daemon (docs/daemon.md).");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "cardspoold: %s\n", error->message);
    return 2;
  }
  if (version) {
    printf("cardspoold %s\n", CS_VERSION);
    return 0;
  }
  g_autoptr(cs_daemon_config_t) config = cs_daemon_config_load(config_path, state_dir, &error);
  if (config == NULL) {
    fprintf(stderr, "cardspoold: %s\n", error->message);
    return 2;
  }
  if (listen) {
    g_free(config->listen);
    config->listen = g_strdup(listen);
  }
  if (socket) {
    g_free(config->socket_path);
    config->socket_path = g_strdup(socket);
  }
  config->specimens |= specimens;
  /* the renderers (spooler workers, API previews) find layouts through the environment; set it
   * before any thread starts */
  if (config->layouts_dir && *config->layouts_dir)
    g_setenv("CARDSPOOL_LAYOUTSDIR", config->layouts_dir, TRUE);
  if (g_mkdir_with_parents(config->state_dir, 0700) != 0) {
    int e = errno;
    fprintf(stderr, "cardspoold: cannot create %s: %s\n", config->state_dir, g_strerror(e));
    return 1;
  }
  if (token_args)
    return add_token(config, token_args);
  int status = 1;
  /* the fonts: checked by the spooler's workers before the API listens (--check-config here) */
  if (!cs_daemon_config_check_files(config, check, &error))
    g_printerr("cardspoold: %s\n", error->message);
  else
    status = check ? print_config(config) : serve(config);
  /* after every renderer is gone, so that leak checkers see fontconfig released */
  cs_fonts_shutdown();
  return status;
}
