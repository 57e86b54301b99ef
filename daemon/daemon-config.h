/* cardspoold's configuration: a GLib key file (docs/daemon.md), or embedded defaults when no
 * file is given, so `cardspoold --state-dir DIR` runs with no setup: one simulated printer
 * (file://DIR/printer), the SQLite store DIR/store.sqlite, keys from DIR/keys, a Unix socket
 * DIR/cardspoold.sock and HTTP on 127.0.0.1:8631. */
#pragma once

#include <glib.h>

#include "settings.h"

G_BEGIN_DECLS

typedef struct {
  char *name;                   /* [printer NAME] */
  char *uri;                    /* driver URI, e.g. evolis://E0001 */
  cs_printer_settings_t settings; /* defaults + the section's other keys */
} cs_printer_config_t;

typedef struct {
  char *state_dir;    /* the store, the socket, the simulated printer; created 0700 */
  char *store_path;   /* default STATE/store.sqlite */
  char *socket_path;  /* default STATE/cardspoold.sock; "" disables */
  char *listen;       /* "HOST:PORT" for HTTP, default 127.0.0.1:8631; "" disables */
  char *tls_cert, *tls_key; /* PEM: HTTPS instead of HTTP on `listen` */
  char *tls_client_ca;      /* PEM: client certificates required, verified against it */
  char *key_dir;      /* signing keys, KEY_DIR/<authority code>/{key,cert}.pem; default
                       * STATE/keys; a missing key makes specimen cards only if `specimens` */
  char *pkcs11_module, *pkcs11_token, *pkcs11_pin_file; /* optional: keys in a token, by
                                                         * label = authority code */
  char *trust_dir;    /* certificates for /v1/verify; default: the certs in key_dir */
  char *layouts_dir;  /* NULL: the installed layouts */
  gboolean specimens; /* allow printing unsigned SPECIMEN cards when no key (demo only) */
  gsize max_job_bytes;   /* request body limit for one job, default 16 MiB */
  gsize max_batch_bytes; /* for a batch, default 256 MiB */
  guint retry_limit;     /* "not printed" attempts before a job fails, default 5 */
  GArray *admin_uids;    /* uid_t: Unix-socket peers that are admin without a token (default:
                          * root and the daemon's own user) */
  GPtrArray *printers;   /* cs_printer_config_t; never empty */
} cs_daemon_config_t;

/* path NULL: embedded defaults. state_dir overrides the file's. Errors name the group, key
 * and value (CS_ERROR_INVALID), or the file (CS_ERROR_IO). */
cs_daemon_config_t *cs_daemon_config_load(const char *path, const char *state_dir,
                                          GError **error);
void cs_daemon_config_free(cs_daemon_config_t *config);
/* Loads what every card needs from files, once, so that a damaged one stops the daemon at
 * start instead of failing jobs: every certificate type's layout, every signing key of key_dir
 * with its certificate (PKCS#11 keys are checked at first use), and the trust store; thorough
 * (--check-config) also the pinned fonts and a blank card of each layout (every static text
 * fits), which takes a second more. The error names the file and why. */
gboolean cs_daemon_config_check_files(const cs_daemon_config_t *config, gboolean thorough,
                                      GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_daemon_config_t, cs_daemon_config_free)

G_END_DECLS
