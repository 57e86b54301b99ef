/* The HTTP API (docs/api.md) on libsoup 3: TCP (HTTP or HTTPS with client certificates) and a
 * Unix socket whose peers are identified by their credentials. */
#pragma once

#include <gio/gio.h>
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
/* Serves one more connection that was not accepted on a listener (the fuzzer feeds requests
 * through a socket pair): requests on it are handled like any other. remote: the peer as the
 * handlers and the audit log see it; it is not a Unix socket peer, so calls need a token. */
gboolean cs_server_accept_stream(cs_server_t *server, GIOStream *stream, GSocketAddress *remote,
                                 GError **error);

G_END_DECLS
