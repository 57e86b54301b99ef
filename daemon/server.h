/* The HTTP API (docs/api.md) on libsoup 3: TCP (HTTP or HTTPS with client certificates) and a
 * Unix socket whose peers are identified by their credentials. */
#pragma once

#include <glib.h>

#include "daemon-config.h"
#include "spooler.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct cs_server cs_server_t;

/* Starts listening on the configured socket and address, serving from the calling thread's
 * main context. store: the main thread's connection (borrowed). */
cs_server_t *cs_server_start(const cs_daemon_config_t *config, cs_store_t *store,
                             cs_spooler_t *spooler, GError **error);
/* The address actually bound ("127.0.0.1:8631"; with port 0 in the config, the port chosen). */
const char *cs_server_address(cs_server_t *server);
void cs_server_stop(cs_server_t *server);

G_END_DECLS
