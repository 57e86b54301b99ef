/* The store on SQLite (store.h is the interface and its lifecycle).
 *
 * One cs_store_t is one connection, used by one thread at a time; several connections, in
 * several threads and processes, share one file:
 * - journal_mode=WAL: readers never block the writer nor each other;
 * - synchronous=FULL: in WAL mode NORMAL may lose the last commits on a power cut; FULL syncs
 *   the WAL at every commit, so when a function returns its transaction is on disk. A serial
 *   handed out, a card printed or an audit entry must never be forgotten after the fact;
 * - every write transaction is BEGIN IMMEDIATE: it takes the write lock first, so two writers
 *   never deadlock upgrading a read lock, and a read-check-write (claim, serial allocation,
 *   idempotency) cannot interleave with another writer. A lock still held by another after the
 *   busy timeout (10 s) is an error (CS_ERROR_STORE), not retried forever;
 * - statements are prepared once per connection and kept in a cache keyed by their SQL text.
 *
 * Any SQLite failure (I/O, disk full, read-only, corrupt, busy) is CS_ERROR_STORE with
 * SQLite's message after the cause in words, and the transaction is rolled back: nothing is
 * half-written. cs_store_error_fault() says which cause; a write that failed on the storage, on
 * any connection, is remembered for the process (cs_store_check_writable()) until one succeeds.
 *
 * 0 for batch_id, serial, replaces_serial and superseded_by is stored as NULL so that the
 * foreign keys hold. States and kinds are stored by name: the file reads well in the sqlite3
 * shell and does not depend on the order of the C enums. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "error.h"

#define BUSY_TIMEOUT_MS 10000
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define HASH_HEX 64
#define TOKEN_BYTES 32
#define TOKEN_PREFIX "csk_"
#define RECOVER_MESSAGE "the daemon stopped while this card was printing: check the printer"
/* The first audit entry's prev_hash. */
static const char ZERO_HASH[] =
  "0000000000000000000000000000000000000000000000000000000000000000";
/* First field of every hashed audit entry: the encoding's version. */
static const char AUDIT_DOMAIN[] = "cardspool-audit-1";

/* ---- names ---- */

static const char *const JOB_STATES[] = {
  "received", "validated", "rendered", "queued", "printing", "printed", "failed",
  "needs-attention", "cancelled",
};
G_STATIC_ASSERT(G_N_ELEMENTS(JOB_STATES) == CS_JOB_CANCELLED + 1);

static const char *const JOB_KINDS[] = {"issue", "reprint", "renewal"};
G_STATIC_ASSERT(G_N_ELEMENTS(JOB_KINDS) == CS_JOB_RENEWAL + 1);

static const char *const CARD_STATES[] = {
  "rendered", "printed", "spoiled", "cancelled", "voided", "superseded",
};
G_STATIC_ASSERT(G_N_ELEMENTS(CARD_STATES) == CS_CARD_SUPERSEDED + 1);

/* By bit: ROLES[i] is 1 << i. */
static const char *const ROLES[] = {"issuer", "operator", "qa", "auditor", "admin"};
#define ROLES_ALL ((1u << G_N_ELEMENTS(ROLES)) - 1)

static int name_index(const char *const *names, gsize n, const char *name) {
  for (gsize i = 0; name && i < n; i++)
    if (strcmp(names[i], name) == 0)
      return (int)i;
  return -1;
}

const char *cs_job_state_name(cs_job_state_t state) {
  g_return_val_if_fail((guint)state < G_N_ELEMENTS(JOB_STATES), NULL);
  return JOB_STATES[state];
}

gboolean cs_job_state_from_name(const char *name, cs_job_state_t *state) {
  int i = name_index(JOB_STATES, G_N_ELEMENTS(JOB_STATES), name);
  if (i < 0)
    return FALSE;
  *state = (cs_job_state_t)i;
  return TRUE;
}

const char *cs_job_kind_name(cs_job_kind_t kind) {
  g_return_val_if_fail((guint)kind < G_N_ELEMENTS(JOB_KINDS), NULL);
  return JOB_KINDS[kind];
}

gboolean cs_job_kind_from_name(const char *name, cs_job_kind_t *kind) {
  int i = name_index(JOB_KINDS, G_N_ELEMENTS(JOB_KINDS), name);
  if (i < 0)
    return FALSE;
  *kind = (cs_job_kind_t)i;
  return TRUE;
}

const char *cs_card_state_name(cs_card_state_t state) {
  g_return_val_if_fail((guint)state < G_N_ELEMENTS(CARD_STATES), NULL);
  return CARD_STATES[state];
}

const char *cs_role_name(cs_role_t role) {
  for (guint i = 0; i < G_N_ELEMENTS(ROLES); i++)
    if ((guint)role == 1u << i)
      return ROLES[i];
  return NULL;
}

gboolean cs_role_from_name(const char *name, cs_role_t *role) {
  int i = name_index(ROLES, G_N_ELEMENTS(ROLES), name);
  if (i < 0)
    return FALSE;
  *role = (cs_role_t)(1u << i);
  return TRUE;
}

/* "issuer,admin" */
static char *roles_text(guint roles) {
  g_autoptr(GString) text = g_string_new(NULL);
  for (guint i = 0; i < G_N_ELEMENTS(ROLES); i++)
    if (roles & (1u << i))
      g_string_append_printf(text, "%s%s", text->len ? "," : "", ROLES[i]);
  return g_string_free(g_steal_pointer(&text), FALSE);
}

/* ---- schema ---- */

/* Version 1. Each migration runs in its own transaction, which also sets user_version; append
 * new ones to MIGRATIONS, never edit one that has shipped. */
static const char MIGRATION_1[] =
  "CREATE TABLE batches (\n"
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
  "  name TEXT,\n"
  "  submitted_by TEXT NOT NULL,\n"
  "  created INTEGER NOT NULL\n"
  ");\n"
  "CREATE TABLE jobs (\n"
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n" /* ids are public: never reused */
  "  state TEXT NOT NULL CHECK (state IN ('received', 'validated', 'rendered', 'queued',\n"
  "    'printing', 'printed', 'failed', 'needs-attention', 'cancelled')),\n"
  "  kind TEXT NOT NULL CHECK (kind IN ('issue', 'reprint', 'renewal')),\n"
  "  held INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),\n"
  "  job_json TEXT NOT NULL,\n"
  "  authority_code TEXT NOT NULL,\n"
  "  certificate_number TEXT NOT NULL,\n"
  "  reference TEXT,\n"
  "  submitted_by TEXT NOT NULL,\n"
  "  printer TEXT,\n"
  "  batch_id INTEGER REFERENCES batches (id),\n"
  "  replaces_serial INTEGER,\n"
  "  serial INTEGER,\n"
  "  attempts INTEGER NOT NULL DEFAULT 0,\n"
  "  message TEXT,\n"
  "  created INTEGER NOT NULL,\n"
  "  updated INTEGER NOT NULL,\n"
  "  FOREIGN KEY (authority_code, replaces_serial) REFERENCES cards (authority_code, serial),\n"
  "  FOREIGN KEY (authority_code, serial) REFERENCES cards (authority_code, serial)\n"
  ");\n"
  /* claim: queued, not held, oldest first; listing by state */
  "CREATE INDEX jobs_state ON jobs (state, held, id);\n"
  "CREATE INDEX jobs_authority ON jobs (authority_code, id);\n"
  "CREATE INDEX jobs_certificate ON jobs (certificate_number, id);\n"
  "CREATE INDEX jobs_batch ON jobs (batch_id, id);\n"
  "CREATE TABLE cards (\n"
  "  authority_code TEXT NOT NULL,\n"
  "  serial INTEGER NOT NULL CHECK (serial > 0),\n"
  "  job_id INTEGER NOT NULL REFERENCES jobs (id),\n"
  "  state TEXT NOT NULL CHECK (state IN ('rendered', 'printed', 'spoiled', 'cancelled',\n"
  "    'voided', 'superseded')),\n"
  "  certificate_number TEXT NOT NULL,\n"
  "  credential TEXT,\n"
  "  credential_sha256 TEXT,\n"
  "  valid_until INTEGER,\n"
  "  created INTEGER NOT NULL,\n"
  "  updated INTEGER NOT NULL,\n"
  "  superseded_by INTEGER,\n"
  "  PRIMARY KEY (authority_code, serial),\n"
  "  FOREIGN KEY (authority_code, superseded_by) REFERENCES cards (authority_code, serial)\n"
  ");\n"
  "CREATE INDEX cards_job ON cards (job_id);\n"
  "CREATE INDEX cards_credential ON cards (credential_sha256);\n"
  /* the next serial per authority: only ever incremented, so never reused */
  "CREATE TABLE serials (\n"
  "  authority_code TEXT PRIMARY KEY,\n"
  "  next_serial INTEGER NOT NULL CHECK (next_serial > 1)\n"
  ");\n"
  "CREATE TABLE idempotency (\n"
  "  submitted_by TEXT NOT NULL,\n"
  "  idempotency_key TEXT NOT NULL,\n"
  "  job_id INTEGER NOT NULL REFERENCES jobs (id),\n"
  "  request_sha256 TEXT NOT NULL,\n"
  "  created INTEGER NOT NULL,\n"
  "  PRIMARY KEY (submitted_by, idempotency_key)\n"
  ");\n"
  "CREATE TABLE tokens (\n"
  "  id INTEGER PRIMARY KEY,\n"
  "  operator TEXT NOT NULL,\n"
  "  roles INTEGER NOT NULL,\n" /* cs_role_t bits */
  "  token_sha256 TEXT NOT NULL UNIQUE,\n"
  "  created INTEGER NOT NULL,\n"
  "  revoked INTEGER\n" /* Unix seconds, NULL while valid */
  ");\n"
  "CREATE INDEX tokens_operator ON tokens (operator);\n"
  "CREATE TABLE audit (\n"
  "  seq INTEGER PRIMARY KEY,\n"
  "  time INTEGER NOT NULL,\n" /* Unix microseconds */
  "  actor TEXT,\n"
  "  action TEXT NOT NULL,\n"
  "  object TEXT,\n"
  "  before TEXT,\n"
  "  after TEXT,\n"
  "  prev_hash TEXT NOT NULL,\n"
  "  hash TEXT NOT NULL\n"
  ");\n"
  /* Guards against our own mistakes only: whoever can write the file can drop these, which is
   * what the hash chain is for. */
  "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
  "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n"
  "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
  "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n";

static const char *const MIGRATIONS[] = {MIGRATION_1};
#define SCHEMA_VERSION ((int)G_N_ELEMENTS(MIGRATIONS))

/* ---- connection, statements, transactions ---- */

struct cs_store {
  sqlite3 *db;
  char *path;
  GHashTable *statements; /* SQL text -> sqlite3_stmt, prepared once per connection */
  int version;
  cs_store_fault_t fault; /* of the last CS_ERROR_STORE this connection gave */
  sqlite3_int64 changes;  /* sqlite3_total_changes64() at the last begin() */
};

/* ---- faults ---- */

/* The cause of a failure from SQLite's extended code and the errno behind it: SQLite reports
 * a write refused with ENOSPC as SQLITE_FULL, but EROFS, EDQUOT or EIO only as an I/O error. */
static cs_store_fault_t classify(int code, int sys_errno) {
  switch (code & 0xff) {
  case SQLITE_FULL:
    return CS_STORE_FAULT_FULL;
  case SQLITE_READONLY:
    return CS_STORE_FAULT_READ_ONLY;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return CS_STORE_FAULT_CORRUPT;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return CS_STORE_FAULT_BUSY;
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN:
    if (sys_errno == ENOSPC || sys_errno == EDQUOT || sys_errno == EFBIG)
      return CS_STORE_FAULT_FULL;
    if (sys_errno == EROFS)
      return CS_STORE_FAULT_READ_ONLY;
    return CS_STORE_FAULT_IO;
  default:
    return CS_STORE_FAULT_OTHER;
  }
}

/* Below this much free space the store is taken for full: a job with its photo takes tens of
 * kilobytes, a state change a few pages. */
#define MIN_FREE (64 * 1024)

static guint64 free_bytes(const struct statvfs *st) {
  /* root may write into the blocks a filesystem keeps for it */
  guint64 blocks = geteuid() == 0 ? (guint64)st->f_bfree : (guint64)st->f_bavail;
  return blocks * (guint64)st->f_frsize;
}

/* What the filesystem under path says now. SQLite reports a write refused with EROFS (e.g. ext4
 * gone read-only after an error) only as SQLITE_IOERR_WRITE, its errno lost by the rollback;
 * making an unnamed file beside the store tells read-only from a failing disk, and leaves
 * nothing behind whatever happens. 0: nothing found. */
static int storage_errno(const char *path) {
  g_autofree char *dir = g_path_get_dirname(path);
  struct statvfs st;
  if (statvfs(dir, &st) == 0) {
    if (st.f_flag & ST_RDONLY)
      return EROFS;
    if (free_bytes(&st) < MIN_FREE)
      return ENOSPC;
  }
  int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  int e = errno;
  return e == EROFS || e == ENOSPC || e == EDQUOT ? e : 0;
}

static const char *fault_words(cs_store_fault_t fault) {
  switch (fault) {
  case CS_STORE_FAULT_FULL:
    return "no space left on its disk";
  case CS_STORE_FAULT_READ_ONLY:
    return "it cannot be written (read-only)";
  case CS_STORE_FAULT_IO:
    return "input/output error";
  case CS_STORE_FAULT_CORRUPT:
    return "not a cardspool store, or damaged";
  case CS_STORE_FAULT_BUSY:
  case CS_STORE_FAULT_NONE:
  case CS_STORE_FAULT_OTHER:
    break;
  }
  return NULL;
}

/* Process-wide: the store paths whose last write failed on the storage, until one succeeds.
 * Each connection is one thread's, but the daemon's API and its workers each have one on the
 * same file, and its health is the file's. */
static GMutex write_faults_lock;
static GHashTable *write_faults; /* set of paths */

static void write_fault_set(const char *path) {
  g_mutex_lock(&write_faults_lock);
  if (write_faults == NULL)
    write_faults = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_add(write_faults, g_strdup(path));
  g_mutex_unlock(&write_faults_lock);
}

static void write_fault_clear(const char *path) {
  g_mutex_lock(&write_faults_lock);
  if (write_faults)
    g_hash_table_remove(write_faults, path);
  g_mutex_unlock(&write_faults_lock);
}

/* A cached statement borrowed for one use: reset (releasing its read snapshot) and unbound
 * when it goes out of scope, never finalized. */
typedef sqlite3_stmt cs_stmt_t;
static void stmt_release(cs_stmt_t *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_stmt_t, stmt_release)

static void stmt_finalize(gpointer st) {
  sqlite3_finalize(st);
}

static gboolean store_fail(cs_store_t *s, GError **error) {
  int code = s->db ? sqlite3_extended_errcode(s->db) : SQLITE_NOMEM;
  int sys_errno = s->db ? sqlite3_system_errno(s->db) : 0;
  int probed = (code & 0xff) == SQLITE_IOERR && sys_errno == 0 ? storage_errno(s->path) : 0;
  s->fault = s->db ? classify(code, probed ? probed : sys_errno) : CS_STORE_FAULT_OTHER;
  const char *hint = (code & 0xff) == SQLITE_BUSY
                       ? " (another connection kept it locked past the busy timeout)" : "";
  const char *words = fault_words(s->fault);
  /* the errno too when SQLite's text is only "disk I/O error" */
  g_autofree char *sys = sys_errno && (code & 0xff) == SQLITE_IOERR
                             ? g_strdup_printf(" (%s)", g_strerror(sys_errno)) : NULL;
  g_set_error(error, CS_ERROR, CS_ERROR_STORE, "store %s: %s%s%s%s%s", s->path,
              words ? words : "", words ? ": " : "",
              s->db ? sqlite3_errmsg(s->db) : "out of memory", sys ? sys : "", hint);
  return FALSE;
}

static cs_stmt_t *prepare(cs_store_t *s, const char *sql, GError **error) {
  sqlite3_stmt *st = g_hash_table_lookup(s->statements, sql);
  if (st) {
    /* one use at a time: a nested use would reset the outer one mid-iteration */
    if (sqlite3_stmt_busy(st))
      g_critical("statement in use twice: %s", sql);
    return st;
  }
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    store_fail(s, error);
    return NULL;
  }
  g_hash_table_insert(s->statements, g_strdup(sql), st);
  return st;
}

/* SQLITE_ROW or SQLITE_DONE, or -1 with error set. */
static int step(cs_store_t *s, cs_stmt_t *st, GError **error) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return rc;
  store_fail(s, error);
  return -1;
}

/* Runs a statement that returns no rows. */
static gboolean step_done(cs_store_t *s, cs_stmt_t *st, GError **error) {
  int rc = step(s, st, error);
  if (rc == SQLITE_ROW) {
    s->fault = CS_STORE_FAULT_OTHER;
    g_set_error(error, CS_ERROR, CS_ERROR_STORE, "store %s: unexpected row", s->path);
    return FALSE;
  }
  return rc == SQLITE_DONE;
}

static gboolean run(cs_store_t *s, const char *sql, GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, sql, error);
  return st && step_done(s, st, error);
}

static void bind_text(cs_stmt_t *st, int i, const char *value) {
  if (value)
    sqlite3_bind_text(st, i, value, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static void bind_int(cs_stmt_t *st, int i, gint64 value) {
  sqlite3_bind_int64(st, i, value);
}

/* An id or serial where 0 means none: NULL in the file. */
static void bind_ref(cs_stmt_t *st, int i, gint64 value) {
  if (value)
    sqlite3_bind_int64(st, i, value);
  else
    sqlite3_bind_null(st, i);
}

static char *column_text(cs_stmt_t *st, int i) {
  const unsigned char *text = sqlite3_column_text(st, i);
  return text ? g_strdup((const char *)text) : NULL;
}

static gboolean begin(cs_store_t *s, GError **error) {
  s->fault = CS_STORE_FAULT_NONE;
  s->changes = sqlite3_total_changes64(s->db);
  return run(s, "BEGIN IMMEDIATE", error);
}

/* Commits when ok, else (or when the commit fails) rolls back. SQLite may already have rolled
 * back by itself (disk full, I/O error): then there is no transaction left to end. A write that
 * failed on the storage is remembered for cs_store_check_writable(), one that wrote clears it. */
static gboolean finish(cs_store_t *s, gboolean ok, GError **error) {
  if (ok && run(s, "COMMIT", error)) {
    /* only a commit that wrote rows proves the storage takes writes again */
    if (sqlite3_total_changes64(s->db) != s->changes)
      write_fault_clear(s->path);
    return TRUE;
  }
  if (!sqlite3_get_autocommit(s->db))
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  if (s->fault == CS_STORE_FAULT_FULL || s->fault == CS_STORE_FAULT_READ_ONLY ||
      s->fault == CS_STORE_FAULT_IO || s->fault == CS_STORE_FAULT_CORRUPT)
    write_fault_set(s->path);
  return FALSE;
}

static gint64 now_seconds(void) {
  return g_get_real_time() / G_USEC_PER_SEC;
}

static gboolean sha256_hex(const void *data, gsize n, char hex[HASH_HEX + 1], GError **error) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data, n, md, &len, EVP_sha256(), NULL) != 1 || len * 2 != HASH_HEX) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "SHA-256 failed (OpenSSL)");
    return FALSE;
  }
  for (unsigned int i = 0; i < len; i++) {
    hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
    hex[2 * i + 1] = "0123456789abcdef"[md[i] & 0xf];
  }
  hex[HASH_HEX] = '\0';
  return TRUE;
}

/* ---- open and migrate ---- */

static gboolean read_version(cs_store_t *s, int *version, GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "PRAGMA user_version", error);
  if (!st || step(s, st, error) != SQLITE_ROW)
    return FALSE;
  *version = sqlite3_column_int(st, 0);
  return TRUE;
}

static gboolean newer_than_us(cs_store_t *s, int version, GError **error) {
  g_set_error(error, CS_ERROR, CS_ERROR_DATA,
              "store %s has schema version %d, newer than this program's %d: "
              "use a newer cardspool", s->path, version, SCHEMA_VERSION);
  return FALSE;
}

/* Applies the migrations the file lacks, each in its own transaction. The version is read
 * again under the write lock: another process may have migrated in between. */
static gboolean migrate(cs_store_t *s, GError **error) {
  for (;;) {
    int version;
    if (!read_version(s, &version, error))
      return FALSE;
    if (version > SCHEMA_VERSION)
      return newer_than_us(s, version, error);
    if (version == SCHEMA_VERSION)
      break;
    if (!begin(s, error))
      return FALSE;
    gboolean ok = read_version(s, &version, error);
    if (ok && version > SCHEMA_VERSION)
      ok = newer_than_us(s, version, error);
    if (ok && version < SCHEMA_VERSION) {
      g_autofree char *set = g_strdup_printf("PRAGMA user_version = %d", version + 1);
      ok = (sqlite3_exec(s->db, MIGRATIONS[version], NULL, NULL, NULL) == SQLITE_OK &&
            sqlite3_exec(s->db, set, NULL, NULL, NULL) == SQLITE_OK) || store_fail(s, error);
    }
    if (!finish(s, ok, error))
      return FALSE;
  }
  s->version = SCHEMA_VERSION;
  return TRUE;
}

/* Switching a new file to WAL needs it alone for a moment, and SQLite then answers
 * SQLITE_BUSY at once, without its busy handler, when another connection is opening the same
 * file: retried here, up to the busy timeout. A file already in WAL needs no lock. */
static gboolean enter_wal(cs_store_t *s, GError **error) {
  gint64 deadline = g_get_monotonic_time() + BUSY_TIMEOUT_MS * (gint64)1000;
  for (;;) {
    g_autoptr(cs_stmt_t) st = prepare(s, "PRAGMA journal_mode = WAL", error);
    if (!st)
      return FALSE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const char *mode = (const char *)sqlite3_column_text(st, 0);
      if (mode && g_ascii_strcasecmp(mode, "wal") == 0)
        return TRUE;
      s->fault = CS_STORE_FAULT_OTHER;
      g_set_error(error, CS_ERROR, CS_ERROR_STORE, "store %s: cannot use WAL (journal mode %s)",
                  s->path, mode ? mode : "unknown");
      return FALSE;
    }
    if ((rc & 0xff) != SQLITE_BUSY || g_get_monotonic_time() > deadline)
      return store_fail(s, error);
    g_usleep(5000);
  }
}

cs_store_t *cs_store_open(const char *path, GError **error) {
  g_return_val_if_fail(path != NULL, NULL);
  g_autoptr(cs_store_t) s = g_new0(cs_store_t, 1);
  s->path = g_strdup(path);
  s->statements = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stmt_finalize);
  /* NOMUTEX: a connection is used by one thread at a time */
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
    store_fail(s, error);
    return NULL;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  /* SQLite falls back to read-only when it cannot write the file: a store that cannot record
   * anything is refused now rather than at the first submission */
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    g_set_error(error, CS_ERROR, CS_ERROR_STORE, "store %s: the file is read-only", path);
    return NULL;
  }
  if (!enter_wal(s, error))
    return NULL;
  if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL,
                   NULL) != SQLITE_OK) {
    store_fail(s, error);
    return NULL;
  }
  if (!migrate(s, error))
    return NULL;
  return g_steal_pointer(&s);
}

void cs_store_close(cs_store_t *store) {
  if (!store)
    return;
  /* statements first: a connection with live statements does not close */
  g_clear_pointer(&store->statements, g_hash_table_unref);
  if (store->db && sqlite3_close(store->db) != SQLITE_OK)
    g_warning("store %s: %s", store->path, sqlite3_errmsg(store->db));
  g_free(store->path);
  g_free(store);
}

int cs_store_schema_version(cs_store_t *store) {
  g_return_val_if_fail(store != NULL, 0);
  return store->version;
}

struct sqlite3 *cs_store_sqlite_db(cs_store_t *store) {
  g_return_val_if_fail(store != NULL, NULL);
  return store->db;
}

cs_store_fault_t cs_store_error_fault(cs_store_t *store) {
  g_return_val_if_fail(store != NULL, CS_STORE_FAULT_OTHER);
  return store->fault;
}

const char *cs_store_fault_name(cs_store_fault_t fault) {
  static const char *const names[] = {"none", "full", "read-only", "io", "corrupt", "busy",
                                      "other"};
  G_STATIC_ASSERT(G_N_ELEMENTS(names) == CS_STORE_FAULT_OTHER + 1);
  return (guint)fault < G_N_ELEMENTS(names) ? names[fault] : "other";
}

gboolean cs_store_check_writable(cs_store_t *store, cs_store_fault_t *fault, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  cs_store_fault_t unused;
  if (fault == NULL)
    fault = &unused;
  *fault = CS_STORE_FAULT_NONE;
  g_autofree char *dir = g_path_get_dirname(store->path);
  struct statvfs st;
  if (statvfs(dir, &st) == 0) {
    if (st.f_flag & ST_RDONLY) {
      *fault = CS_STORE_FAULT_READ_ONLY;
      g_set_error(error, CS_ERROR, CS_ERROR_STORE,
                  "store %s: it cannot be written (read-only): its filesystem is read-only",
                  store->path);
      return FALSE;
    }
    guint64 left = free_bytes(&st);
    if (left < MIN_FREE) {
      *fault = CS_STORE_FAULT_FULL;
      g_set_error(error, CS_ERROR, CS_ERROR_STORE,
                  "store %s: no space left on its disk (%" G_GUINT64_FORMAT " bytes free)",
                  store->path, left);
      return FALSE;
    }
  }
  g_mutex_lock(&write_faults_lock);
  gboolean failed = write_faults && g_hash_table_contains(write_faults, store->path);
  g_mutex_unlock(&write_faults_lock);
  if (!failed)
    return TRUE;
  /* the last write failed: only a write tells whether it would still; writing the schema
   * version as it is dirties one page and commits it */
  g_autofree char *probe = g_strdup_printf("PRAGMA user_version = %d", store->version);
  if (begin(store, error) && finish(store, run(store, probe, error), error)) {
    write_fault_clear(store->path);
    return TRUE;
  }
  *fault = store->fault == CS_STORE_FAULT_NONE ? CS_STORE_FAULT_OTHER : store->fault;
  return FALSE;
}

/* ---- audit ---- */

static void encode_text(GByteArray *out, const char *value) {
  if (!value) {
    guint8 tag = 'N';
    g_byte_array_append(out, &tag, 1);
    return;
  }
  guint64 n = strlen(value);
  guint8 head[9] = {'S'};
  for (int i = 0; i < 8; i++)
    head[1 + i] = (guint8)(n >> (56 - 8 * i));
  g_byte_array_append(out, head, sizeof head);
  g_byte_array_append(out, (const guint8 *)value, (guint)n);
}

static void encode_int(GByteArray *out, gint64 value) {
  guint64 u = (guint64)value;
  guint8 b[9] = {'I'};
  for (int i = 0; i < 8; i++)
    b[1 + i] = (guint8)(u >> (56 - 8 * i));
  g_byte_array_append(out, b, sizeof b);
}

/* Each field tagged (N: NULL, S: text with a 64-bit length, I: 64-bit integer), so no two
 * different entries encode alike. */
static gboolean audit_hash(gint64 seq, gint64 time, const char *actor, const char *action,
                           const char *object, const char *before, const char *after,
                           const char *prev_hash, char hex[HASH_HEX + 1], GError **error) {
  g_autoptr(GByteArray) b = g_byte_array_new();
  encode_text(b, AUDIT_DOMAIN);
  encode_int(b, seq);
  encode_int(b, time);
  encode_text(b, actor);
  encode_text(b, action);
  encode_text(b, object);
  encode_text(b, before);
  encode_text(b, after);
  encode_text(b, prev_hash);
  return sha256_hex(b->data, b->len, hex, error);
}

/* Inside a write transaction, so seq and prev_hash cannot race another writer. */
static gboolean audit_append(cs_store_t *s, const char *actor, const char *action,
                             const char *object, const char *before, const char *after,
                             GError **error) {
  gint64 seq = 1;
  char prev[HASH_HEX + 1];
  memcpy(prev, ZERO_HASH, sizeof prev);
  {
    g_autoptr(cs_stmt_t) last = prepare(s, "SELECT seq, hash FROM audit ORDER BY seq DESC "
                                           "LIMIT 1", error);
    int rc = last ? step(s, last, error) : -1;
    if (rc < 0)
      return FALSE;
    if (rc == SQLITE_ROW) {
      const char *hash = (const char *)sqlite3_column_text(last, 1);
      seq = sqlite3_column_int64(last, 0) + 1;
      g_strlcpy(prev, hash ? hash : "", sizeof prev);
    }
  }
  gint64 time = g_get_real_time();
  char hash[HASH_HEX + 1];
  if (!audit_hash(seq, time, actor, action, object, before, after, prev, hash, error))
    return FALSE;
  g_autoptr(cs_stmt_t) st = prepare(s, "INSERT INTO audit (seq, time, actor, action, object, "
                                       "before, after, prev_hash, hash) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (!st)
    return FALSE;
  bind_int(st, 1, seq);
  bind_int(st, 2, time);
  bind_text(st, 3, actor);
  bind_text(st, 4, action);
  bind_text(st, 5, object);
  bind_text(st, 6, before);
  bind_text(st, 7, after);
  bind_text(st, 8, prev);
  bind_text(st, 9, hash);
  return step_done(s, st, error);
}

gboolean cs_store_audit(cs_store_t *store, const char *actor, const char *action,
                        const char *object, const char *before, const char *after,
                        GError **error) {
  g_return_val_if_fail(store != NULL && action != NULL, FALSE);
  if (!begin(store, error))
    return FALSE;
  return finish(store, audit_append(store, actor, action, object, before, after, error), error);
}

void cs_audit_entry_free(cs_audit_entry_t *entry) {
  if (!entry)
    return;
  g_free(entry->actor);
  g_free(entry->action);
  g_free(entry->object);
  g_free(entry->before);
  g_free(entry->after);
  g_free(entry->prev_hash);
  g_free(entry->hash);
  g_free(entry);
}

#define AUDIT_COLUMNS "seq, time, actor, action, object, before, after, prev_hash, hash"

static cs_audit_entry_t *audit_from_row(cs_stmt_t *st) {
  cs_audit_entry_t *e = g_new0(cs_audit_entry_t, 1);
  e->seq = sqlite3_column_int64(st, 0);
  e->time = sqlite3_column_int64(st, 1);
  e->actor = column_text(st, 2);
  e->action = column_text(st, 3);
  e->object = column_text(st, 4);
  e->before = column_text(st, 5);
  e->after = column_text(st, 6);
  e->prev_hash = column_text(st, 7);
  e->hash = column_text(st, 8);
  return e;
}

static guint clamp_limit(guint limit) {
  return limit == 0 ? LIST_DEFAULT : MIN(limit, LIST_MAX);
}

GPtrArray *cs_store_audit_list(cs_store_t *store, gint64 after_seq, guint limit,
                               GError **error) {
  g_return_val_if_fail(store != NULL, NULL);
  g_autoptr(cs_stmt_t) st = prepare(store, "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq > ? "
                                           "ORDER BY seq LIMIT ?", error);
  if (!st)
    return NULL;
  bind_int(st, 1, after_seq);
  bind_int(st, 2, clamp_limit(limit));
  g_autoptr(GPtrArray) entries =
    g_ptr_array_new_with_free_func((GDestroyNotify)cs_audit_entry_free);
  int rc;
  while ((rc = step(store, st, error)) == SQLITE_ROW)
    g_ptr_array_add(entries, audit_from_row(st));
  return rc == SQLITE_DONE ? g_steal_pointer(&entries) : NULL;
}

/* One SELECT reads one snapshot of the whole log. Deleting entries at the end cannot be told
 * from the chain alone (what is left is still a valid chain): only a head hash kept elsewhere
 * (anchored by the daemon) can show a truncation. */
gboolean cs_store_audit_verify(cs_store_t *store, gint64 *checked, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  gint64 count = 0;
  if (checked)
    *checked = 0;
  g_autoptr(cs_stmt_t) st = prepare(store, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY seq",
                                    error);
  if (!st)
    return FALSE;
  char prev[HASH_HEX + 1];
  memcpy(prev, ZERO_HASH, sizeof prev);
  int rc;
  while ((rc = step(store, st, error)) == SQLITE_ROW) {
    g_autoptr(cs_audit_entry_t) e = audit_from_row(st);
    gint64 expected = count + 1;
    char hash[HASH_HEX + 1];
    if (e->seq != expected) {
      g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                  "audit entry %" G_GINT64_FORMAT " is missing: the log goes from entry %"
                  G_GINT64_FORMAT " to %" G_GINT64_FORMAT, expected, count, e->seq);
      return FALSE;
    }
    if (g_strcmp0(e->prev_hash, prev) != 0) {
      g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                  "audit entry %" G_GINT64_FORMAT " does not follow entry %" G_GINT64_FORMAT
                  ": its prev_hash differs (an entry was deleted, replaced or moved)",
                  e->seq, count);
      return FALSE;
    }
    if (!audit_hash(e->seq, e->time, e->actor, e->action, e->object, e->before, e->after,
                    e->prev_hash, hash, error))
      return FALSE;
    if (g_strcmp0(e->hash, hash) != 0) {
      g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                  "audit entry %" G_GINT64_FORMAT " was altered: its hash does not match its "
                  "content", e->seq);
      return FALSE;
    }
    memcpy(prev, hash, sizeof prev);
    count++;
    if (checked)
      *checked = count;
  }
  return rc == SQLITE_DONE;
}

/* ---- jobs and cards as rows ---- */

void cs_store_job_free(cs_store_job_t *job) {
  if (!job)
    return;
  g_free(job->job_json);
  g_free(job->authority_code);
  g_free(job->certificate_number);
  g_free(job->reference);
  g_free(job->submitted_by);
  g_free(job->printer);
  g_free(job->message);
  g_free(job);
}

void cs_store_card_free(cs_store_card_t *card) {
  if (!card)
    return;
  g_free(card->authority_code);
  g_free(card->certificate_number);
  g_free(card->credential);
  g_free(card->credential_sha256);
  g_free(card);
}

#define JOB_COLUMNS                                                                           \
  "id, state, kind, held, job_json, authority_code, certificate_number, reference, "         \
  "submitted_by, printer, batch_id, replaces_serial, serial, attempts, message, created, "   \
  "updated"

static gboolean unknown_name(cs_store_t *s, const char *what, const char *name,
                             GError **error) {
  g_set_error(error, CS_ERROR, CS_ERROR_STORE, "store %s: unknown %s '%s'", s->path, what,
              name ? name : "(null)");
  return FALSE;
}

static cs_store_job_t *job_from_row(cs_store_t *s, cs_stmt_t *st, GError **error) {
  g_autoptr(cs_store_job_t) job = g_new0(cs_store_job_t, 1);
  job->id = sqlite3_column_int64(st, 0);
  const char *state = (const char *)sqlite3_column_text(st, 1);
  if (!cs_job_state_from_name(state, &job->state)) {
    unknown_name(s, "job state", state, error);
    return NULL;
  }
  const char *kind = (const char *)sqlite3_column_text(st, 2);
  if (!cs_job_kind_from_name(kind, &job->kind)) {
    unknown_name(s, "job kind", kind, error);
    return NULL;
  }
  job->held = sqlite3_column_int(st, 3) != 0;
  job->job_json = column_text(st, 4);
  job->authority_code = column_text(st, 5);
  job->certificate_number = column_text(st, 6);
  job->reference = column_text(st, 7);
  job->submitted_by = column_text(st, 8);
  job->printer = column_text(st, 9);
  job->batch_id = sqlite3_column_int64(st, 10);
  job->replaces_serial = sqlite3_column_int64(st, 11);
  job->serial = sqlite3_column_int64(st, 12);
  job->attempts = (guint)sqlite3_column_int64(st, 13);
  job->message = column_text(st, 14);
  job->created = sqlite3_column_int64(st, 15);
  job->updated = sqlite3_column_int64(st, 16);
  return g_steal_pointer(&job);
}

static cs_store_job_t *load_job(cs_store_t *s, gint64 id, GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", error);
  if (!st)
    return NULL;
  bind_int(st, 1, id);
  int rc = step(s, st, error);
  if (rc == SQLITE_DONE)
    g_set_error(error, CS_ERROR, CS_ERROR_NOT_FOUND, "no job %" G_GINT64_FORMAT, id);
  return rc == SQLITE_ROW ? job_from_row(s, st, error) : NULL;
}

cs_store_job_t *cs_store_get_job(cs_store_t *store, gint64 job_id, GError **error) {
  g_return_val_if_fail(store != NULL, NULL);
  return load_job(store, job_id, error);
}

#define CARD_COLUMNS                                                                          \
  "authority_code, serial, job_id, state, certificate_number, credential, credential_sha256, " \
  "valid_until, created, updated, superseded_by"

static cs_store_card_t *card_from_row(cs_store_t *s, cs_stmt_t *st, GError **error) {
  g_autoptr(cs_store_card_t) card = g_new0(cs_store_card_t, 1);
  card->authority_code = column_text(st, 0);
  card->serial = sqlite3_column_int64(st, 1);
  card->job_id = sqlite3_column_int64(st, 2);
  const char *state = (const char *)sqlite3_column_text(st, 3);
  int i = name_index(CARD_STATES, G_N_ELEMENTS(CARD_STATES), state);
  if (i < 0) {
    unknown_name(s, "card state", state, error);
    return NULL;
  }
  card->state = (cs_card_state_t)i;
  card->certificate_number = column_text(st, 4);
  card->credential = column_text(st, 5);
  card->credential_sha256 = column_text(st, 6);
  card->valid_until = sqlite3_column_int64(st, 7);
  card->created = sqlite3_column_int64(st, 8);
  card->updated = sqlite3_column_int64(st, 9);
  card->superseded_by = sqlite3_column_int64(st, 10);
  return g_steal_pointer(&card);
}

static cs_store_card_t *load_card(cs_store_t *s, const char *authority, gint64 serial,
                                  GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "SELECT " CARD_COLUMNS " FROM cards "
                                       "WHERE authority_code = ? AND serial = ?", error);
  if (!st)
    return NULL;
  bind_text(st, 1, authority);
  bind_int(st, 2, serial);
  int rc = step(s, st, error);
  if (rc == SQLITE_DONE)
    g_set_error(error, CS_ERROR, CS_ERROR_NOT_FOUND, "no card %s/%" G_GINT64_FORMAT, authority,
                serial);
  return rc == SQLITE_ROW ? card_from_row(s, st, error) : NULL;
}

static char *job_object(gint64 id) {
  return g_strdup_printf("job:%" G_GINT64_FORMAT, id);
}

static char *card_object(const char *authority, gint64 serial) {
  return g_strdup_printf("card:%s/%" G_GINT64_FORMAT, authority, serial);
}

static gboolean job_conflict(const cs_store_job_t *job, cs_job_state_t expected,
                             GError **error) {
  g_set_error(error, CS_ERROR, CS_ERROR_CONFLICT, "job %" G_GINT64_FORMAT " is %s, not %s",
              job->id, JOB_STATES[job->state], JOB_STATES[expected]);
  return FALSE;
}

/* The job, inside the transaction, if it is in state `expected`. */
static cs_store_job_t *load_job_in(cs_store_t *s, gint64 id, cs_job_state_t expected,
                                   GError **error) {
  g_autoptr(cs_store_job_t) job = load_job(s, id, error);
  if (job && job->state != expected) {
    job_conflict(job, expected, error);
    return NULL;
  }
  return g_steal_pointer(&job);
}

/* Moves the job to `to` (message replaced when not NULL, attempts increased by `attempts`) and
 * records it as `action`. */
static gboolean set_job_state(cs_store_t *s, const cs_store_job_t *job, cs_job_state_t to,
                              const char *message, int attempts, const char *actor,
                              const char *action, GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE jobs SET state = ?2, updated = ?3, "
                                       "message = coalesce(?4, message), "
                                       "attempts = attempts + ?5 WHERE id = ?1", error);
  if (!st)
    return FALSE;
  bind_int(st, 1, job->id);
  bind_text(st, 2, JOB_STATES[to]);
  bind_int(st, 3, now_seconds());
  bind_text(st, 4, message);
  bind_int(st, 5, attempts);
  if (!step_done(s, st, error))
    return FALSE;
  g_autofree char *object = job_object(job->id);
  return audit_append(s, actor, action, object, JOB_STATES[job->state], JOB_STATES[to], error);
}

static gboolean set_job_serial(cs_store_t *s, gint64 id, gint64 serial, GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE jobs SET serial = ?2 WHERE id = ?1", error);
  if (!st)
    return FALSE;
  bind_int(st, 1, id);
  bind_ref(st, 2, serial);
  return step_done(s, st, error);
}

/* The card's state, recorded as `action` with `after` (default: the new state's name). */
static gboolean set_card_state(cs_store_t *s, const cs_store_card_t *card, cs_card_state_t to,
                               const char *actor, const char *action, const char *after,
                               GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE cards SET state = ?3, updated = ?4 "
                                       "WHERE authority_code = ?1 AND serial = ?2", error);
  if (!st)
    return FALSE;
  bind_text(st, 1, card->authority_code);
  bind_int(st, 2, card->serial);
  bind_text(st, 3, CARD_STATES[to]);
  bind_int(st, 4, now_seconds());
  if (!step_done(s, st, error))
    return FALSE;
  g_autofree char *object = card_object(card->authority_code, card->serial);
  return audit_append(s, actor, action, object, CARD_STATES[card->state],
                      after ? after : CARD_STATES[to], error);
}

/* ---- submissions ---- */

static gboolean exists(cs_store_t *s, const char *sql, const char *text, gint64 number,
                       gboolean *found, GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, sql, error);
  if (!st)
    return FALSE;
  int n = 1;
  if (text)
    bind_text(st, n++, text);
  bind_int(st, n, number);
  int rc = step(s, st, error);
  *found = rc == SQLITE_ROW;
  return rc >= 0;
}

/* The job stored under (submitted_by, key): *job_id, or 0 when the key is new; another
 * request under the same key is CS_ERROR_CONFLICT. */
static gboolean find_submission(cs_store_t *s, const char *submitted_by, const char *key,
                                const char *request_sha256, gint64 *job_id, GError **error) {
  *job_id = 0;
  g_autoptr(cs_stmt_t) st = prepare(s, "SELECT job_id, request_sha256 FROM idempotency "
                                       "WHERE submitted_by = ? AND idempotency_key = ?", error);
  if (!st)
    return FALSE;
  bind_text(st, 1, submitted_by);
  bind_text(st, 2, key);
  int rc = step(s, st, error);
  if (rc < 0)
    return FALSE;
  if (rc != SQLITE_ROW)
    return TRUE;
  gint64 id = sqlite3_column_int64(st, 0);
  if (g_strcmp0((const char *)sqlite3_column_text(st, 1), request_sha256) != 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_CONFLICT,
                "idempotency key '%s' was used for job %" G_GINT64_FORMAT
                " with another request", key, id);
    return FALSE;
  }
  *job_id = id;
  return TRUE;
}

gboolean cs_store_find_submission(cs_store_t *s, const char *submitted_by, const char *key,
                                  const char *request_sha256, gint64 *job_id, GError **error) {
  return find_submission(s, submitted_by, key, request_sha256, job_id, error);
}

static gboolean submit_in(cs_store_t *s, const cs_store_submit_t *sub, gint64 *job_id,
                          gboolean *existing, GError **error) {
  gint64 earlier = 0;
  if (!find_submission(s, sub->submitted_by, sub->idempotency_key, sub->request_sha256,
                       &earlier, error))
    return FALSE;
  if (earlier > 0) {
    *job_id = earlier;
    *existing = TRUE;
    return TRUE;
  }
  gboolean found = TRUE;
  if (sub->batch_id) {
    if (!exists(s, "SELECT 1 FROM batches WHERE id = ?", NULL, sub->batch_id, &found, error))
      return FALSE;
    if (!found) {
      g_set_error(error, CS_ERROR, CS_ERROR_NOT_FOUND, "no batch %" G_GINT64_FORMAT,
                  sub->batch_id);
      return FALSE;
    }
  }
  if (sub->replaces_serial) {
    if (!exists(s, "SELECT 1 FROM cards WHERE authority_code = ? AND serial = ?",
                sub->authority_code, sub->replaces_serial, &found, error))
      return FALSE;
    if (!found) {
      g_set_error(error, CS_ERROR, CS_ERROR_NOT_FOUND, "no card %s/%" G_GINT64_FORMAT,
                  sub->authority_code, sub->replaces_serial);
      return FALSE;
    }
  }
  gint64 now = now_seconds();
  {
    g_autoptr(cs_stmt_t) st = prepare(s, "INSERT INTO jobs (state, kind, held, job_json, "
                                         "authority_code, certificate_number, reference, "
                                         "submitted_by, printer, batch_id, replaces_serial, "
                                         "created, updated) VALUES "
                                         "('received', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                      error);
    if (!st)
      return FALSE;
    bind_text(st, 1, JOB_KINDS[sub->kind]);
    bind_int(st, 2, sub->held ? 1 : 0);
    bind_text(st, 3, sub->job_json);
    bind_text(st, 4, sub->authority_code);
    bind_text(st, 5, sub->certificate_number);
    bind_text(st, 6, sub->reference);
    bind_text(st, 7, sub->submitted_by);
    bind_text(st, 8, sub->printer);
    bind_ref(st, 9, sub->batch_id);
    bind_ref(st, 10, sub->replaces_serial);
    bind_int(st, 11, now);
    bind_int(st, 12, now);
    if (!step_done(s, st, error))
      return FALSE;
  }
  gint64 id = sqlite3_last_insert_rowid(s->db);
  {
    g_autoptr(cs_stmt_t) st = prepare(s, "INSERT INTO idempotency (submitted_by, "
                                         "idempotency_key, job_id, request_sha256, created) "
                                         "VALUES (?, ?, ?, ?, ?)", error);
    if (!st)
      return FALSE;
    bind_text(st, 1, sub->submitted_by);
    bind_text(st, 2, sub->idempotency_key);
    bind_int(st, 3, id);
    bind_text(st, 4, sub->request_sha256);
    bind_int(st, 5, now);
    if (!step_done(s, st, error))
      return FALSE;
  }
  g_autofree char *object = job_object(id);
  if (!audit_append(s, sub->submitted_by, "job.submit", object, NULL, JOB_STATES[CS_JOB_RECEIVED],
                    error))
    return FALSE;
  *job_id = id;
  *existing = FALSE;
  return TRUE;
}

gboolean cs_store_submit(cs_store_t *store, const cs_store_submit_t *submit, gint64 *job_id,
                         gboolean *existing, GError **error) {
  g_return_val_if_fail(store != NULL && submit != NULL, FALSE);
  g_return_val_if_fail(submit->job_json && submit->authority_code &&
                       submit->certificate_number && submit->submitted_by &&
                       submit->idempotency_key && submit->request_sha256, FALSE);
  g_return_val_if_fail((guint)submit->kind < G_N_ELEMENTS(JOB_KINDS), FALSE);
  gint64 id = 0;
  gboolean found = FALSE;
  if (!begin(store, error) || !finish(store, submit_in(store, submit, &id, &found, error), error))
    return FALSE;
  if (job_id)
    *job_id = id;
  if (existing)
    *existing = found;
  return TRUE;
}

static gboolean new_batch_in(cs_store_t *s, const char *submitted_by, const char *name,
                             gint64 *id, GError **error) {
  {
    g_autoptr(cs_stmt_t) st = prepare(s, "INSERT INTO batches (name, submitted_by, created) "
                                         "VALUES (?, ?, ?)", error);
    if (!st)
      return FALSE;
    bind_text(st, 1, name);
    bind_text(st, 2, submitted_by);
    bind_int(st, 3, now_seconds());
    if (!step_done(s, st, error))
      return FALSE;
  }
  *id = sqlite3_last_insert_rowid(s->db);
  g_autofree char *object = g_strdup_printf("batch:%" G_GINT64_FORMAT, *id);
  return audit_append(s, submitted_by, "batch.new", object, NULL, name, error);
}

/* 0 on error (batch ids start at 1). */
gint64 cs_store_new_batch(cs_store_t *store, const char *submitted_by, const char *name,
                          GError **error) {
  g_return_val_if_fail(store != NULL && submitted_by != NULL, 0);
  gint64 id = 0;
  if (!begin(store, error) ||
      !finish(store, new_batch_in(store, submitted_by, name, &id, error), error))
    return 0;
  return id;
}

GPtrArray *cs_store_list_jobs(cs_store_t *store, const cs_job_filter_t *filter,
                              GError **error) {
  g_return_val_if_fail(store != NULL && filter != NULL, NULL);
  g_return_val_if_fail(filter->state >= -1 && filter->state <= CS_JOB_CANCELLED, NULL);
  /* one statement per combination of filters, each cached, so each can use its index */
  g_autoptr(GString) sql = g_string_new("SELECT " JOB_COLUMNS " FROM jobs WHERE id > ?1");
  if (filter->state >= 0)
    g_string_append(sql, " AND state = ?2");
  if (filter->authority_code)
    g_string_append(sql, " AND authority_code = ?3");
  if (filter->certificate_number)
    g_string_append(sql, " AND certificate_number = ?4");
  if (filter->batch_id)
    g_string_append(sql, " AND batch_id = ?5");
  g_string_append(sql, " ORDER BY id LIMIT ?6");
  g_autoptr(cs_stmt_t) st = prepare(store, sql->str, error);
  if (!st)
    return NULL;
  bind_int(st, 1, filter->after_id);
  if (filter->state >= 0)
    bind_text(st, 2, JOB_STATES[filter->state]);
  bind_text(st, 3, filter->authority_code);
  bind_text(st, 4, filter->certificate_number);
  bind_int(st, 5, filter->batch_id);
  bind_int(st, 6, clamp_limit(filter->limit));
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)cs_store_job_free);
  int rc;
  while ((rc = step(store, st, error)) == SQLITE_ROW) {
    cs_store_job_t *job = job_from_row(store, st, error);
    if (!job)
      return NULL;
    g_ptr_array_add(jobs, job);
  }
  return rc == SQLITE_DONE ? g_steal_pointer(&jobs) : NULL;
}

gboolean cs_store_count_jobs(cs_store_t *store, gint64 batch_id, gint64 *counts,
                             GError **error) {
  g_return_val_if_fail(store != NULL && counts != NULL, FALSE);
  memset(counts, 0, sizeof *counts * (CS_JOB_CANCELLED + 1));
  const char *sql = batch_id ? "SELECT state, count(*) FROM jobs WHERE batch_id = ? "
                               "GROUP BY state"
                             : "SELECT state, count(*) FROM jobs GROUP BY state";
  g_autoptr(cs_stmt_t) st = prepare(store, sql, error);
  if (!st)
    return FALSE;
  if (batch_id)
    bind_int(st, 1, batch_id);
  int rc;
  while ((rc = step(store, st, error)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    cs_job_state_t state;
    if (!cs_job_state_from_name(name, &state))
      return unknown_name(store, "job state", name, error);
    counts[state] = sqlite3_column_int64(st, 1);
  }
  return rc == SQLITE_DONE;
}

/* ---- transitions ---- */

/* The job's current card, which must be in `expected`. */
static cs_store_card_t *job_card(cs_store_t *s, const cs_store_job_t *job,
                                 cs_card_state_t expected, GError **error) {
  if (!job->serial) {
    g_set_error(error, CS_ERROR, CS_ERROR_CONFLICT, "job %" G_GINT64_FORMAT " has no card",
                job->id);
    return NULL;
  }
  g_autoptr(cs_store_card_t) card = load_card(s, job->authority_code, job->serial, error);
  if (card && card->state != expected) {
    g_set_error(error, CS_ERROR, CS_ERROR_CONFLICT, "card %s/%" G_GINT64_FORMAT " is %s, not %s",
                card->authority_code, card->serial, CARD_STATES[card->state],
                CARD_STATES[expected]);
    return NULL;
  }
  return g_steal_pointer(&card);
}

/* The moves without a function of their own (those need more than a state changed). A job
 * that cannot be rendered or signed fails before printing. */
static gboolean plain_transition(cs_job_state_t from, cs_job_state_t to) {
  switch (from) {
  case CS_JOB_RECEIVED:
    return to == CS_JOB_VALIDATED;
  case CS_JOB_VALIDATED:
  case CS_JOB_RENDERED:
    return to == CS_JOB_FAILED;
  case CS_JOB_PRINTING:
    return to == CS_JOB_QUEUED || to == CS_JOB_FAILED || to == CS_JOB_NEEDS_ATTENTION;
  default:
    return FALSE;
  }
}

static gboolean transition_in(cs_store_t *s, gint64 id, cs_job_state_t from, cs_job_state_t to,
                              const char *actor, const char *message, GError **error) {
  g_autoptr(cs_store_job_t) job = load_job_in(s, id, from, error);
  if (!job)
    return FALSE;
  /* failed: not printed and never will be, so its card was never issued */
  if (to == CS_JOB_FAILED && job->serial) {
    g_autoptr(cs_store_card_t) card = job_card(s, job, CS_CARD_RENDERED, error);
    if (!card || !set_card_state(s, card, CS_CARD_CANCELLED, actor, "card.cancel", NULL, error))
      return FALSE;
  }
  /* "not printed": one more attempt that did not produce a card */
  int attempt = from == CS_JOB_PRINTING && (to == CS_JOB_QUEUED || to == CS_JOB_FAILED);
  return set_job_state(s, job, to, message, attempt, actor, "job.state", error);
}

gboolean cs_store_transition(cs_store_t *store, gint64 job_id, cs_job_state_t from,
                             cs_job_state_t to, const char *actor, const char *message,
                             GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail((guint)from <= CS_JOB_CANCELLED && (guint)to <= CS_JOB_CANCELLED, FALSE);
  if (!plain_transition(from, to)) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                "cs_store_transition does not move a job from %s to %s", JOB_STATES[from],
                JOB_STATES[to]);
    return FALSE;
  }
  return begin(store, error) &&
         finish(store, transition_in(store, job_id, from, to, actor, message, error), error);
}

static gboolean requeue_in(cs_store_t *s, gint64 id, const char *actor, const char *message,
                           GError **error) {
  g_autoptr(cs_store_job_t) job = load_job_in(s, id, CS_JOB_PRINTING, error);
  return job && set_job_state(s, job, CS_JOB_QUEUED, message, 0, actor, "job.state", error);
}

gboolean cs_store_requeue(cs_store_t *store, gint64 job_id, const char *actor,
                          const char *message, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  return begin(store, error) &&
         finish(store, requeue_in(store, job_id, actor, message, error), error);
}

static gboolean allocate_in(cs_store_t *s, gint64 id, const char *actor, gint64 *serial,
                            GError **error) {
  g_autoptr(cs_store_job_t) job = load_job_in(s, id, CS_JOB_VALIDATED, error);
  if (!job)
    return FALSE;
  {
    /* the first serial of an authority is 1; next_serial only ever grows */
    g_autoptr(cs_stmt_t) st = prepare(s, "INSERT INTO serials (authority_code, next_serial) "
                                         "VALUES (?, 2) ON CONFLICT (authority_code) DO UPDATE "
                                         "SET next_serial = next_serial + 1 "
                                         "RETURNING next_serial - 1", error);
    if (!st)
      return FALSE;
    bind_text(st, 1, job->authority_code);
    if (step(s, st, error) != SQLITE_ROW)
      return FALSE;
    *serial = sqlite3_column_int64(st, 0);
    if (!step_done(s, st, error))
      return FALSE;
  }
  {
    gint64 now = now_seconds();
    g_autoptr(cs_stmt_t) st = prepare(s, "INSERT INTO cards (authority_code, serial, job_id, "
                                         "state, certificate_number, created, updated) "
                                         "VALUES (?, ?, ?, 'rendered', ?, ?, ?)", error);
    if (!st)
      return FALSE;
    bind_text(st, 1, job->authority_code);
    bind_int(st, 2, *serial);
    bind_int(st, 3, job->id);
    bind_text(st, 4, job->certificate_number);
    bind_int(st, 5, now);
    bind_int(st, 6, now);
    if (!step_done(s, st, error))
      return FALSE;
  }
  g_autofree char *object = card_object(job->authority_code, *serial);
  g_autofree char *after = g_strdup_printf("rendered for job %" G_GINT64_FORMAT, job->id);
  return audit_append(s, actor, "card.allocate", object, NULL, after, error) &&
         set_job_serial(s, job->id, *serial, error) &&
         set_job_state(s, job, CS_JOB_RENDERED, NULL, 0, actor, "job.state", error);
}

gboolean cs_store_allocate(cs_store_t *store, gint64 job_id, const char *actor, gint64 *serial,
                           GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  gint64 allocated = 0;
  if (!begin(store, error) ||
      !finish(store, allocate_in(store, job_id, actor, &allocated, error), error))
    return FALSE;
  if (serial)
    *serial = allocated;
  return TRUE;
}

static gboolean queue_in(cs_store_t *s, gint64 id, const char *credential, gint64 valid_until,
                         const char *actor, GError **error) {
  g_autoptr(cs_store_job_t) job = load_job_in(s, id, CS_JOB_RENDERED, error);
  g_autoptr(cs_store_card_t) card = job ? job_card(s, job, CS_CARD_RENDERED, error) : NULL;
  if (!card)
    return FALSE;
  char hex[HASH_HEX + 1];
  if (credential && !sha256_hex(credential, strlen(credential), hex, error))
    return FALSE;
  {
    g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE cards SET credential = ?3, "
                                         "credential_sha256 = ?4, valid_until = ?5, "
                                         "updated = ?6 "
                                         "WHERE authority_code = ?1 AND serial = ?2", error);
    if (!st)
      return FALSE;
    bind_text(st, 1, card->authority_code);
    bind_int(st, 2, card->serial);
    bind_text(st, 3, credential);
    bind_text(st, 4, credential ? hex : NULL);
    bind_int(st, 5, valid_until);
    bind_int(st, 6, now_seconds());
    if (!step_done(s, st, error))
      return FALSE;
  }
  g_autofree char *object = card_object(card->authority_code, card->serial);
  g_autofree char *after = credential ? g_strdup_printf("credential sha256 %s", hex)
                                      : g_strdup("specimen (no credential)");
  return audit_append(s, actor, "card.sign", object, NULL, after, error) &&
         set_job_state(s, job, CS_JOB_QUEUED, NULL, 0, actor, "job.state", error);
}

gboolean cs_store_queue(cs_store_t *store, gint64 job_id, const char *credential,
                        gint64 valid_until, const char *actor, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  return begin(store, error) &&
         finish(store, queue_in(store, job_id, credential, valid_until, actor, error), error);
}

static gboolean claim_in(cs_store_t *s, const char *printer, const char *actor,
                         cs_store_job_t **claimed, GError **error) {
  gint64 id;
  {
    /* the state is checked again in the UPDATE itself, so even without the write lock taken
     * by BEGIN IMMEDIATE a job could not be claimed twice */
    g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE jobs SET state = 'printing', updated = ?2 "
                                         "WHERE id = (SELECT id FROM jobs "
                                         "WHERE state = 'queued' AND held = 0 "
                                         "AND (printer IS NULL OR printer = ?1) "
                                         "ORDER BY id LIMIT 1) AND state = 'queued' "
                                         "RETURNING id", error);
    if (!st)
      return FALSE;
    bind_text(st, 1, printer);
    bind_int(st, 2, now_seconds());
    int rc = step(s, st, error);
    if (rc != SQLITE_ROW)
      return rc == SQLITE_DONE; /* none queued: no job, no error */
    id = sqlite3_column_int64(st, 0);
    if (!step_done(s, st, error))
      return FALSE;
  }
  g_autofree char *object = job_object(id);
  if (!audit_append(s, actor, "job.state", object, JOB_STATES[CS_JOB_QUEUED],
                    JOB_STATES[CS_JOB_PRINTING], error))
    return FALSE;
  *claimed = load_job(s, id, error);
  return *claimed != NULL;
}

cs_store_job_t *cs_store_claim(cs_store_t *store, const char *printer, const char *actor,
                               GError **error) {
  g_return_val_if_fail(store != NULL, NULL);
  g_autoptr(cs_store_job_t) job = NULL;
  if (!begin(store, error) || !finish(store, claim_in(store, printer, actor, &job, error), error))
    return NULL;
  return g_steal_pointer(&job);
}

/* The job's card printed, the card it replaces superseded, the job printed. */
static gboolean printed_in(cs_store_t *s, const cs_store_job_t *job, const char *actor,
                           const char *action, GError **error) {
  g_autoptr(cs_store_card_t) card = job_card(s, job, CS_CARD_RENDERED, error);
  if (!card || !set_card_state(s, card, CS_CARD_PRINTED, actor, "card.print", NULL, error))
    return FALSE;
  if (job->replaces_serial) {
    g_autoptr(cs_store_card_t) old = load_card(s, job->authority_code, job->replaces_serial,
                                               error);
    if (!old)
      return FALSE;
    /* a voided card stays voided (the verifier must say revoked) but still points at its
     * replacement */
    cs_card_state_t to = old->state == CS_CARD_PRINTED ? CS_CARD_SUPERSEDED : old->state;
    g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE cards SET superseded_by = ?3 "
                                         "WHERE authority_code = ?1 AND serial = ?2", error);
    if (!st)
      return FALSE;
    bind_text(st, 1, old->authority_code);
    bind_int(st, 2, old->serial);
    bind_int(st, 3, card->serial);
    g_autofree char *after = g_strdup_printf("%s by card %s/%" G_GINT64_FORMAT,
                                             CARD_STATES[to], card->authority_code,
                                             card->serial);
    if (!step_done(s, st, error) ||
        !set_card_state(s, old, to, actor, "card.supersede", after, error))
      return FALSE;
  }
  return set_job_state(s, job, CS_JOB_PRINTED, NULL, 0, actor, action, error);
}

static gboolean print_done_in(cs_store_t *s, gint64 id, const char *actor, GError **error) {
  g_autoptr(cs_store_job_t) job = load_job_in(s, id, CS_JOB_PRINTING, error);
  return job && printed_in(s, job, actor, "job.state", error);
}

gboolean cs_store_printed(cs_store_t *store, gint64 job_id, const char *actor, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  return begin(store, error) && finish(store, print_done_in(store, job_id, actor, error), error);
}

static gboolean recover_in(cs_store_t *s, const char *actor, gint64 *count, GError **error) {
  g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
  {
    /* collected first: the rows are changed below */
    g_autoptr(cs_stmt_t) st = prepare(s, "SELECT id FROM jobs WHERE state = 'printing' "
                                         "ORDER BY id", error);
    if (!st)
      return FALSE;
    int rc;
    while ((rc = step(s, st, error)) == SQLITE_ROW) {
      gint64 id = sqlite3_column_int64(st, 0);
      g_array_append_val(ids, id);
    }
    if (rc < 0)
      return FALSE;
  }
  for (guint i = 0; i < ids->len; i++) {
    g_autoptr(cs_store_job_t) job = load_job(s, g_array_index(ids, gint64, i), error);
    if (!job || !set_job_state(s, job, CS_JOB_NEEDS_ATTENTION, RECOVER_MESSAGE, 0, actor,
                               "job.state", error))
      return FALSE;
  }
  *count = ids->len;
  return TRUE;
}

gint64 cs_store_recover(cs_store_t *store, const char *actor, GError **error) {
  g_return_val_if_fail(store != NULL, -1);
  gint64 count = 0;
  if (!begin(store, error) || !finish(store, recover_in(store, actor, &count, error), error))
    return -1;
  return count;
}

static gboolean resolve_in(cs_store_t *s, gint64 id, gboolean printed, const char *actor,
                           GError **error) {
  g_autoptr(cs_store_job_t) job = load_job_in(s, id, CS_JOB_NEEDS_ATTENTION, error);
  if (!job)
    return FALSE;
  if (printed)
    return printed_in(s, job, actor, "job.resolve", error);
  /* spoiled: the serial stays with the spoiled card; the job is rendered again under a new
   * one */
  g_autoptr(cs_store_card_t) card = job_card(s, job, CS_CARD_RENDERED, error);
  return card && set_card_state(s, card, CS_CARD_SPOILED, actor, "card.spoil", NULL, error) &&
         set_job_serial(s, job->id, 0, error) &&
         set_job_state(s, job, CS_JOB_VALIDATED, NULL, 0, actor, "job.resolve", error);
}

gboolean cs_store_resolve(cs_store_t *store, gint64 job_id, gboolean printed,
                          const char *actor, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  return begin(store, error) &&
         finish(store, resolve_in(store, job_id, printed, actor, error), error);
}

static gboolean cancel_in(cs_store_t *s, gint64 id, const char *actor, GError **error) {
  g_autoptr(cs_store_job_t) job = load_job(s, id, error);
  if (!job)
    return FALSE;
  if (job->state > CS_JOB_QUEUED) {
    g_set_error(error, CS_ERROR, CS_ERROR_CONFLICT,
                "job %" G_GINT64_FORMAT " is %s: only a job that has not started printing can "
                "be cancelled", job->id, JOB_STATES[job->state]);
    return FALSE;
  }
  if (job->serial) {
    g_autoptr(cs_store_card_t) card = job_card(s, job, CS_CARD_RENDERED, error);
    if (!card || !set_card_state(s, card, CS_CARD_CANCELLED, actor, "card.cancel", NULL, error))
      return FALSE;
  }
  return set_job_state(s, job, CS_JOB_CANCELLED, NULL, 0, actor, "job.cancel", error);
}

gboolean cs_store_cancel(cs_store_t *store, gint64 job_id, const char *actor, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  return begin(store, error) && finish(store, cancel_in(store, job_id, actor, error), error);
}

static gboolean held_in(cs_store_t *s, gint64 id, gboolean held, const char *actor,
                        GError **error) {
  g_autoptr(cs_store_job_t) job = load_job(s, id, error);
  if (!job)
    return FALSE;
  /* a hold keeps a job from printer: it means something only while it may still print */
  if (job->state > CS_JOB_QUEUED && job->state != CS_JOB_NEEDS_ATTENTION) {
    g_set_error(error, CS_ERROR, CS_ERROR_CONFLICT,
                "job %" G_GINT64_FORMAT " is %s: only a job waiting to print can be %s",
                job->id, JOB_STATES[job->state], held ? "held" : "released");
    return FALSE;
  }
  if (job->held == held)
    return TRUE; /* already so: nothing changes, nothing to record */
  g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE jobs SET held = ?2, updated = ?3 WHERE id = ?1",
                                    error);
  if (!st)
    return FALSE;
  bind_int(st, 1, job->id);
  bind_int(st, 2, held ? 1 : 0);
  bind_int(st, 3, now_seconds());
  if (!step_done(s, st, error))
    return FALSE;
  g_autofree char *object = job_object(job->id);
  return audit_append(s, actor, held ? "job.hold" : "job.release", object,
                      held ? "released" : "held", held ? "held" : "released", error);
}

gboolean cs_store_set_held(cs_store_t *store, gint64 job_id, gboolean held, const char *actor,
                           GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  return begin(store, error) && finish(store, held_in(store, job_id, held, actor, error), error);
}

/* ---- cards ---- */

cs_store_card_t *cs_store_get_card(cs_store_t *store, const char *authority_code,
                                   gint64 serial, GError **error) {
  g_return_val_if_fail(store != NULL && authority_code != NULL, NULL);
  return load_card(store, authority_code, serial, error);
}

cs_store_card_t *cs_store_find_card(cs_store_t *store, const char *credential_sha256,
                                    GError **error) {
  g_return_val_if_fail(store != NULL && credential_sha256 != NULL, NULL);
  g_autofree char *lower = g_ascii_strdown(credential_sha256, -1);
  g_autoptr(cs_stmt_t) st = prepare(store, "SELECT " CARD_COLUMNS " FROM cards "
                                           "WHERE credential_sha256 = ? "
                                           "ORDER BY serial DESC LIMIT 1", error);
  if (!st)
    return NULL;
  bind_text(st, 1, lower);
  int rc = step(store, st, error);
  return rc == SQLITE_ROW ? card_from_row(store, st, error) : NULL;
}

static gboolean void_in(cs_store_t *s, const char *authority, gint64 serial, const char *reason,
                        const char *actor, GError **error) {
  g_autoptr(cs_store_card_t) card = load_card(s, authority, serial, error);
  if (!card)
    return FALSE;
  if (card->state != CS_CARD_PRINTED) {
    g_set_error(error, CS_ERROR, CS_ERROR_CONFLICT, "card %s/%" G_GINT64_FORMAT " is %s, not %s",
                authority, serial, CARD_STATES[card->state], CARD_STATES[CS_CARD_PRINTED]);
    return FALSE;
  }
  g_autofree char *after = g_strdup_printf("voided: %s", reason);
  return set_card_state(s, card, CS_CARD_VOIDED, actor, "card.void", after, error);
}

gboolean cs_store_void_card(cs_store_t *store, const char *authority_code, gint64 serial,
                            const char *reason, const char *actor, GError **error) {
  g_return_val_if_fail(store != NULL && authority_code != NULL && reason != NULL, FALSE);
  return begin(store, error) &&
         finish(store, void_in(store, authority_code, serial, reason, actor, error), error);
}

GPtrArray *cs_store_list_cards(cs_store_t *store, GError **error) {
  g_return_val_if_fail(store != NULL, NULL);
  g_autoptr(cs_stmt_t) st = prepare(store, "SELECT " CARD_COLUMNS " FROM cards "
                                           "ORDER BY authority_code, serial", error);
  if (!st)
    return NULL;
  g_autoptr(GPtrArray) cards = g_ptr_array_new_with_free_func((GDestroyNotify)cs_store_card_free);
  int rc;
  while ((rc = step(store, st, error)) == SQLITE_ROW) {
    cs_store_card_t *card = card_from_row(store, st, error);
    if (!card)
      return NULL;
    g_ptr_array_add(cards, card);
  }
  return rc == SQLITE_DONE ? g_steal_pointer(&cards) : NULL;
}

/* ---- operators ---- */

static gboolean add_token_in(cs_store_t *s, const char *operator_name, guint roles,
                             const char *hash, const char *actor, GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "INSERT INTO tokens (operator, roles, token_sha256, "
                                       "created) VALUES (?, ?, ?, ?)", error);
  if (!st)
    return FALSE;
  bind_text(st, 1, operator_name);
  bind_int(st, 2, roles);
  bind_text(st, 3, hash);
  bind_int(st, 4, now_seconds());
  if (!step_done(s, st, error))
    return FALSE;
  g_autofree char *object = g_strdup_printf("operator:%s", operator_name);
  g_autofree char *after = roles_text(roles);
  return audit_append(s, actor, "token.add", object, NULL, after, error);
}

char *cs_store_add_token(cs_store_t *store, const char *operator_name, guint roles,
                         const char *actor, GError **error) {
  g_return_val_if_fail(store != NULL && operator_name != NULL, NULL);
  g_return_val_if_fail((roles & ~ROLES_ALL) == 0, NULL);
  unsigned char raw[TOKEN_BYTES];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "no random bytes for a token (OpenSSL)");
    return NULL;
  }
  g_autoptr(GString) token = g_string_new(TOKEN_PREFIX);
  for (gsize i = 0; i < sizeof raw; i++)
    g_string_append_printf(token, "%02x", raw[i]);
  OPENSSL_cleanse(raw, sizeof raw);
  char hash[HASH_HEX + 1];
  if (!sha256_hex(token->str, token->len, hash, error) || !begin(store, error) ||
      !finish(store, add_token_in(store, operator_name, roles, hash, actor, error), error)) {
    OPENSSL_cleanse(token->str, token->len);
    return NULL;
  }
  return g_string_free(g_steal_pointer(&token), FALSE);
}

gboolean cs_store_check_token(cs_store_t *store, const char *token, char **operator_name,
                              guint *roles, GError **error) {
  g_return_val_if_fail(store != NULL, FALSE);
  if (!token || !*token)
    return FALSE;
  char hash[HASH_HEX + 1];
  if (!sha256_hex(token, strlen(token), hash, error))
    return FALSE;
  g_autoptr(cs_stmt_t) st = prepare(store, "SELECT operator, roles FROM tokens "
                                           "WHERE token_sha256 = ? AND revoked IS NULL", error);
  if (!st)
    return FALSE;
  bind_text(st, 1, hash);
  if (step(store, st, error) != SQLITE_ROW)
    return FALSE;
  if (operator_name)
    *operator_name = column_text(st, 0);
  if (roles)
    *roles = (guint)sqlite3_column_int64(st, 1);
  return TRUE;
}

static gboolean revoke_in(cs_store_t *s, const char *operator_name, const char *actor,
                          GError **error) {
  g_autoptr(cs_stmt_t) st = prepare(s, "UPDATE tokens SET revoked = ? "
                                       "WHERE operator = ? AND revoked IS NULL", error);
  if (!st)
    return FALSE;
  bind_int(st, 1, now_seconds());
  bind_text(st, 2, operator_name);
  if (!step_done(s, st, error))
    return FALSE;
  int n = sqlite3_changes(s->db);
  if (n == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_NOT_FOUND, "no valid token for operator %s",
                operator_name);
    return FALSE;
  }
  g_autofree char *object = g_strdup_printf("operator:%s", operator_name);
  g_autofree char *after = g_strdup_printf("%d token%s revoked", n, n == 1 ? "" : "s");
  return audit_append(s, actor, "token.revoke", object, NULL, after, error);
}

gboolean cs_store_revoke_tokens(cs_store_t *store, const char *operator_name, const char *actor,
                                GError **error) {
  g_return_val_if_fail(store != NULL && operator_name != NULL, FALSE);
  return begin(store, error) &&
         finish(store, revoke_in(store, operator_name, actor, error), error);
}
