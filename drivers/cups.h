/* CUPS queues through libcups: the card goes as a PDF whose media is exactly the card. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *uri;        /* cups://QUEUE */
  char *name;
  char *info;       /* printer-info */
  char *make_model; /* printer-make-and-model */
  char *state;      /* "idle", "processing", "stopped" (+ reasons) */
  gboolean accepting;
} cs_cups_queue_t;

void cs_cups_queue_free(cs_cups_queue_t *queue);
/* The queues of the CUPS server libcups finds (CUPS_SERVER, client.conf, localhost). */
GPtrArray *cs_cups_list(GError **error);

G_END_DECLS
