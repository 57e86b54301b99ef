/* The spooler's durable store: jobs and their lifecycle, card serials and the card registry,
 * idempotency keys, operators' tokens and the hash-chained audit log.
 *
 * The interface is narrow on purpose: every function is one transaction, committed durably
 * before it returns, and says what it needs in terms of jobs and cards, never SQL. The
 * embedded backend is SQLite (store-sqlite.c: WAL, synchronous=FULL); a PostgreSQL backend for
 * several print stations can implement the same functions later.
 *
 * Job lifecycle (cs_job_state_t):
 *   received -> validated -> rendered -> queued -> printing -> printed
 *   (received -> validated happens while the submission is answered; an invalid job is refused
 *   then and never stored)
 *   printing -> queued (printer said "not printed": sent again later)
 *   printing -> failed (not printed, and retrying cannot help)
 *   printing -> needs-attention (may be partly printed; also every job found printing at start)
 *   needs-attention -> printed | queued (spoiled: a new serial) by an operator
 *   any state before printing -> cancelled
 * `held` is a flag beside the state: a held job is not picked for printing.
 *
 * Cards: a card is one serial, allocated when a job is rendered, per issuing authority,
 * monotonically, never reused. Card states: rendered, printed, spoiled (printed badly or
 * uncertain and discarded), cancelled (never printed), voided (revoked after printing),
 * superseded (replaced by a reprint or renewal). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct cs_store cs_store_t;

typedef enum {
  CS_JOB_RECEIVED,
  CS_JOB_VALIDATED,
  CS_JOB_RENDERED,
  CS_JOB_QUEUED,
  CS_JOB_PRINTING,
  CS_JOB_PRINTED,
  CS_JOB_FAILED,
  CS_JOB_NEEDS_ATTENTION,
  CS_JOB_CANCELLED,
} cs_job_state_t;

typedef enum {
  CS_JOB_ISSUE,   /* a first card */
  CS_JOB_REPRINT, /* the same certificate again: supersedes the card it replaces */
  CS_JOB_RENEWAL, /* after review (复审): supersedes the card it replaces */
} cs_job_kind_t;

typedef enum {
  CS_CARD_RENDERED,
  CS_CARD_PRINTED,
  CS_CARD_SPOILED,
  CS_CARD_CANCELLED,
  CS_CARD_VOIDED,
  CS_CARD_SUPERSEDED,
} cs_card_state_t;

const char *cs_job_state_name(cs_job_state_t state); /* "needs-attention", … */
gboolean cs_job_state_from_name(const char *name, cs_job_state_t *state);
const char *cs_job_kind_name(cs_job_kind_t kind);   /* "issue", "reprint", "renewal" */
gboolean cs_job_kind_from_name(const char *name, cs_job_kind_t *kind);
const char *cs_card_state_name(cs_card_state_t state);

/* A job as stored. */
typedef struct {
  gint64 id;
  cs_job_state_t state;
  cs_job_kind_t kind;
  gboolean held;
  char *job_json;        /* the submitted job document, canonical (cs_job_to_string), photo
                          * embedded as data so the job is complete without its files */
  char *authority_code;  /* the record's issuing_authority_code */
  char *certificate_number;
  char *reference;       /* the submitter's reference, or NULL */
  char *submitted_by;    /* operator name */
  char *printer;         /* the printer's name in the daemon config; NULL: any */
  gint64 batch_id;       /* 0: not part of a batch */
  gint64 replaces_serial; /* reprint/renewal: the card it supersedes (same authority), or 0 */
  gint64 serial;         /* the current card's serial once rendered, else 0 */
  guint attempts;        /* print attempts that ended "not printed" */
  char *message;         /* the last problem: a validation report (JSON) or a printer message */
  gint64 created, updated; /* Unix seconds */
} cs_store_job_t;

void cs_store_job_free(cs_store_job_t *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_store_job_t, cs_store_job_free)

/* A card in the registry. */
typedef struct {
  char *authority_code;
  gint64 serial;
  gint64 job_id;
  cs_card_state_t state;
  char *certificate_number;
  char *credential;       /* the QR text printed on it (signed), or NULL for a specimen */
  char *credential_sha256; /* hex, for lookups by QR */
  gint64 valid_until;     /* Unix seconds (end of the validity day), for the export */
  gint64 created, updated;
  gint64 superseded_by;   /* serial of the card that replaced it, or 0 */
} cs_store_card_t;

void cs_store_card_free(cs_store_card_t *card);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_store_card_t, cs_store_card_free)

/* Opens (creating if needed) the store at path (an SQLite file), migrating its schema to the
 * current version; a store newer than this program is refused (CS_ERROR_DATA). */
cs_store_t *cs_store_open(const char *path, GError **error);
void cs_store_close(cs_store_t *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_store_t, cs_store_close)
int cs_store_schema_version(cs_store_t *store);

/* ---- submissions ---- */

typedef struct {
  const char *job_json;
  const char *authority_code;
  const char *certificate_number;
  const char *reference;
  const char *submitted_by;
  const char *printer;        /* NULL: any */
  cs_job_kind_t kind;
  gint64 replaces_serial;
  gint64 batch_id;
  gboolean held;              /* submit held */
  const char *idempotency_key; /* required: unique per submitter */
  const char *request_sha256;  /* hex digest of the request body, to tell a retry from a clash */
} cs_store_submit_t;

/* Stores a new job in state received, or, when (submitted_by, idempotency_key) was seen
 * before with the same request_sha256, returns that job's id with *existing = TRUE. The same
 * key with another body: CS_ERROR_CONFLICT. */
gboolean cs_store_submit(cs_store_t *store, const cs_store_submit_t *submit, gint64 *job_id,
                         gboolean *existing, GError **error);

/* What an earlier submission under (submitted_by, key) stored: *job_id, 0 when the key is new.
 * The same key with another request_sha256: CS_ERROR_CONFLICT. Lets a retry be answered
 * before checks that only hold the first time (a reprint's card is superseded once printed). */
gboolean cs_store_find_submission(cs_store_t *store, const char *submitted_by, const char *key,
                                  const char *request_sha256, gint64 *job_id, GError **error);

/* A new batch id (batches group jobs for listing and progress); 0 on error. */
gint64 cs_store_new_batch(cs_store_t *store, const char *submitted_by, const char *name,
                          GError **error);

cs_store_job_t *cs_store_get_job(cs_store_t *store, gint64 job_id, GError **error);

typedef struct {
  int state;               /* -1: any */
  const char *authority_code;
  const char *certificate_number;
  gint64 batch_id;         /* 0: any */
  gint64 after_id;         /* paging: ids greater than this */
  guint limit;             /* 0: 100; at most 1000 */
} cs_job_filter_t;

/* Jobs matching filter, by id ascending. */
GPtrArray *cs_store_list_jobs(cs_store_t *store, const cs_job_filter_t *filter, GError **error);

/* Counts per state (array of CS_JOB_CANCELLED + 1 gint64), of all jobs or one batch. */
gboolean cs_store_count_jobs(cs_store_t *store, gint64 batch_id, gint64 *counts,
                             GError **error);

/* ---- transitions: each checks the current state, changes it, writes the audit entry ---- */

/* from -> to, only if the job is in `from` (else CS_ERROR_CONFLICT naming the state it is
 * in). message replaces the job's message when not NULL. Only the moves without their own
 * function: received -> validated; validated | rendered -> failed (cannot be rendered or
 * signed); printing -> queued | failed (one more attempt) | needs-attention. failed also
 * cancels the job's card, never printed. Any other pair is CS_ERROR_FAILED. */
gboolean cs_store_transition(cs_store_t *store, gint64 job_id, cs_job_state_t from,
                             cs_job_state_t to, const char *actor, const char *message,
                             GError **error);
/* printing -> queued without counting an attempt: the printer was at fault (ribbon out, cover
 * open, unplugged…) when it refused the card, which says nothing against the job. */
gboolean cs_store_requeue(cs_store_t *store, gint64 job_id, const char *actor,
                          const char *message, GError **error);

/* validated -> rendered: allocates the next serial of the job's authority, records the card
 * (state rendered, no credential yet) and sets the job's serial. The serial is committed
 * before anything is signed with it, so a crash can never hand it out twice. */
gboolean cs_store_allocate(cs_store_t *store, gint64 job_id, const char *actor, gint64 *serial,
                           GError **error);
/* rendered -> queued: the card's credential (the signed QR text, its SHA-256 computed here)
 * and its validity end are recorded. A job found in rendered at start is signed again under
 * the same serial and queued. */
gboolean cs_store_queue(cs_store_t *store, gint64 job_id, const char *credential,
                        gint64 valid_until, const char *actor, GError **error);

/* The oldest queued, not held job for printer (or for any printer when the job names none),
 * moved to printing in the same transaction. NULL with no error when there is none. */
cs_store_job_t *cs_store_claim(cs_store_t *store, const char *printer, const char *actor,
                               GError **error);

/* printing -> printed; the card printed; the card it replaces (if any) superseded. */
gboolean cs_store_printed(cs_store_t *store, gint64 job_id, const char *actor, GError **error);

/* At start: every job left printing becomes needs-attention (never printed again blindly).
 * Returns how many. */
gint64 cs_store_recover(cs_store_t *store, const char *actor, GError **error);

/* needs-attention -> resolved by an operator: "printed" (it came out fine: as
 * cs_store_printed) or "spoiled" (the card is spoiled and the job goes back to validated, to
 * be rendered under a new serial). */
gboolean cs_store_resolve(cs_store_t *store, gint64 job_id, gboolean printed,
                          const char *actor, GError **error);

/* Before printing (received, validated, rendered, queued) -> cancelled; its card, if any,
 * cancelled. */
gboolean cs_store_cancel(cs_store_t *store, gint64 job_id, const char *actor, GError **error);
/* Only while the job may still print (received to queued, needs-attention), else
 * CS_ERROR_CONFLICT; setting it as it is changes nothing. */
gboolean cs_store_set_held(cs_store_t *store, gint64 job_id, gboolean held, const char *actor,
                           GError **error);

/* ---- cards ---- */

cs_store_card_t *cs_store_get_card(cs_store_t *store, const char *authority_code,
                                   gint64 serial, GError **error);
/* The card whose QR text has this SHA-256 (hex), or NULL (no error) when none. */
cs_store_card_t *cs_store_find_card(cs_store_t *store, const char *credential_sha256,
                                    GError **error);
/* printed -> voided (revoked), with the reason in the audit log. */
gboolean cs_store_void_card(cs_store_t *store, const char *authority_code, gint64 serial,
                            const char *reason, const char *actor, GError **error);
/* Every card, for the export, by authority then serial. */
GPtrArray *cs_store_list_cards(cs_store_t *store, GError **error);

/* ---- operators ---- */

typedef enum {
  CS_ROLE_ISSUER = 1 << 0,   /* submits jobs and batches */
  CS_ROLE_OPERATOR = 1 << 1, /* runs the printers: hold, release, cancel, resolve, reprint */
  CS_ROLE_QA = 1 << 2,       /* previews and verifies */
  CS_ROLE_AUDITOR = 1 << 3,  /* reads the audit log and the export */
  CS_ROLE_ADMIN = 1 << 4,    /* everything, and manages tokens */
} cs_role_t;

const char *cs_role_name(cs_role_t role);
gboolean cs_role_from_name(const char *name, cs_role_t *role);

/* A new random bearer token for operator with roles; the token is returned once, only its
 * SHA-256 is stored. */
char *cs_store_add_token(cs_store_t *store, const char *operator_name, guint roles,
                         const char *actor, GError **error);
/* The operator and roles of a token, FALSE (no error) when unknown or revoked. */
gboolean cs_store_check_token(cs_store_t *store, const char *token, char **operator_name,
                              guint *roles, GError **error);
/* Every valid token of the operator; CS_ERROR_NOT_FOUND when there is none. */
gboolean cs_store_revoke_tokens(cs_store_t *store, const char *operator_name, const char *actor,
                                GError **error);

/* ---- audit ---- */

/* Appends one entry: who, what, on which object, state before and after (JSON or plain text,
 * may be NULL). Every function above that changes something appends its own entries in the
 * same transaction; this is for actions outside them (a login refused, a preview). */
gboolean cs_store_audit(cs_store_t *store, const char *actor, const char *action,
                        const char *object, const char *before, const char *after,
                        GError **error);

typedef struct {
  gint64 seq;
  gint64 time;  /* Unix microseconds */
  char *actor, *action, *object, *before, *after;
  char *prev_hash, *hash; /* hex SHA-256; hash covers prev_hash and every field above */
} cs_audit_entry_t;

void cs_audit_entry_free(cs_audit_entry_t *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_audit_entry_t, cs_audit_entry_free)
GPtrArray *cs_store_audit_list(cs_store_t *store, gint64 after_seq, guint limit,
                               GError **error);
/* Walks the chain: FALSE with CS_ERROR_DATA naming the first entry that was edited, deleted
 * or reordered. *checked = entries verified. Entries cut from the end leave a valid chain:
 * only a head hash kept elsewhere can show that. */
gboolean cs_store_audit_verify(cs_store_t *store, gint64 *checked, GError **error);

/* ---- faults ---- */

/* Why the store failed (every such failure is CS_ERROR_STORE; its message says it in words). */
typedef enum {
  CS_STORE_FAULT_NONE,
  CS_STORE_FAULT_FULL,      /* no space left: SQLITE_FULL, ENOSPC, EDQUOT */
  CS_STORE_FAULT_READ_ONLY, /* the file or its filesystem cannot be written: EROFS, … */
  CS_STORE_FAULT_IO,        /* another input/output error */
  CS_STORE_FAULT_CORRUPT,   /* not an SQLite file, or damaged */
  CS_STORE_FAULT_BUSY,      /* locked by another connection past the busy timeout */
  CS_STORE_FAULT_OTHER,
} cs_store_fault_t;

/* The cause of the CS_ERROR_STORE this connection gave last; call it right after the call that
 * failed, from the thread that made it. */
cs_store_fault_t cs_store_error_fault(cs_store_t *store);
const char *cs_store_fault_name(cs_store_fault_t fault); /* "full", "read-only", … */
/* Whether the store can record now (for a health check): FALSE with CS_ERROR_STORE and *fault
 * (may be NULL) when its filesystem is read-only or has almost no space left, or when the last
 * write of any connection to this file in this process failed and one tried now fails too. In
 * the usual case it costs a statvfs(); a write is tried only after a failed one. */
gboolean cs_store_check_writable(cs_store_t *store, cs_store_fault_t *fault, GError **error);

/* ---- for tests and maintenance only ---- */

/* The SQLite connection under store (store-sqlite.c), e.g. for a test to set a page limit or a
 * busy timeout on it. Not for the daemon: everything it needs is above. */
struct sqlite3 *cs_store_sqlite_db(cs_store_t *store);

G_END_DECLS
