/* The spooler: one worker thread per configured printer. Each worker, in a loop, takes the
 * oldest job it may handle and moves it one step, committing each state before the action it
 * allows:
 *   validated -> rendered   allocate the card serial (committed), then sign the credential
 *   rendered  -> queued     store the credential; (a job found in rendered at start is signed
 *                           again under its serial)
 *   queued    -> printing   claim (committed), then render for this printer and print
 *   printing  -> printed | needs-attention | queued (not printed: attempts + 1, retried after
 *                a pause) | failed (not printed retry_limit times, or a card that cannot be
 *                printed on this printer at all)
 * "Not printed" while the printer cannot take cards (ribbon out, feeder empty, cover open,
 * jam, unreachable) is the printer's fault, not the job's: the job is queued again with no
 * attempt counted, and the printer takes no card until its status is ready again (asked every
 * second; the state and what to do are in cs_spooler_printers()).
 * At start every job left in printing becomes needs-attention (cs_store_recover): a card is
 * never printed twice on a guess. SIGTERM: a worker finishes the card in progress (the driver
 * call) and stops before taking the next; jobs not started stay queued. */
#pragma once

#include <glib.h>

#include "daemon-config.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct cs_spooler cs_spooler_t;

/* Opens every printer's driver (a printer that cannot be opened is reported in its status and
 * retried, not fatal), loads the signing keys and starts the workers. The store is borrowed
 * and must outlive the spooler; workers use their own store connection. */
cs_spooler_t *cs_spooler_start(const cs_daemon_config_t *config, GError **error);
/* New work may be there: wake the workers (after a submission, release, resolve…). */
void cs_spooler_wake(cs_spooler_t *spooler);
/* Finishes the cards in progress, stops the workers, closes the drivers. */
void cs_spooler_stop(cs_spooler_t *spooler);

typedef struct {
  char *name, *uri, *model;
  char *state;   /* cs_printer_state_name(), or "unavailable" when its driver cannot open */
  char *message; /* the driver's last problem, or NULL */
  gint64 job_id; /* the job printing now, or 0 */
  guint64 printed; /* cards printed since start */
} cs_spooler_printer_t;

void cs_spooler_printer_free(cs_spooler_printer_t *printer);
/* A snapshot of every printer (asks each idle driver for its status). */
GPtrArray *cs_spooler_printers(cs_spooler_t *spooler);

G_END_DECLS
