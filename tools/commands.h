/* Private to the cardspool command: one function per subcommand. */
#pragma once

#include <glib.h>

/* Exit codes, documented in `cardspool --help` and the README. */
enum {
  CS_EXIT_OK = 0,
  CS_EXIT_INVALID = 1, /* input read, but problems found */
  CS_EXIT_USAGE = 2,   /* bad command line */
  CS_EXIT_IO = 3,      /* a file or the data folder could not be read */
  CS_EXIT_PRINTER = 4, /* a printer could not be reached or is not ready */
  CS_EXIT_DAEMON = 5,  /* the daemon refused the request or could not be reached */
};

#include "record.h"
#include "report.h"

int cs_cmd_validate(int argc, char **argv);
int cs_cmd_render(int argc, char **argv);
int cs_cmd_keygen(int argc, char **argv);
int cs_cmd_verify(int argc, char **argv);
int cs_cmd_printers(int argc, char **argv);
int cs_cmd_qa(int argc, char **argv);

/* The daemon's client (cmd-jobs.c, cmd-batch.c) */
int cs_cmd_submit(int argc, char **argv);
int cs_cmd_batch(int argc, char **argv);
int cs_cmd_status(int argc, char **argv);
int cs_cmd_list(int argc, char **argv);
int cs_cmd_cancel(int argc, char **argv);
int cs_cmd_hold(int argc, char **argv);
int cs_cmd_release(int argc, char **argv);
int cs_cmd_resolve(int argc, char **argv);
int cs_cmd_reprint(int argc, char **argv);
int cs_cmd_void(int argc, char **argv);
int cs_cmd_audit(int argc, char **argv);
int cs_cmd_export(int argc, char **argv);
int cs_cmd_preview(int argc, char **argv);
int cs_cmd_token(int argc, char **argv);

/* Called once per job: line is 0 for a .json file, the line number in a .jsonl; stem names the
 * job's outputs (the file's base name, with "-LINE" in a .jsonl). job is NULL when the
 * document could not be read as a job at all; the report says why. */
typedef void (*cs_tool_job_fn)(const char *file, guint line, const char *stem, cs_job_t *job,
                               cs_report_t *report, gpointer user_data);

/* Every job of every file: a .jsonl is read a line at a time (constant memory, blank lines
 * skipped), any other file is one job. FALSE if a file could not be read (said on stderr). */
gboolean cs_tool_for_each_job(char **files, cs_tool_job_fn fn, gpointer user_data);

/* "FILE" or "FILE:LINE", newly allocated. */
char *cs_tool_where(const char *file, guint line);

/* One line per problem, FILE[:LINE]: JSON-PATH: CODE: MESSAGE; or "FILE: OK" unless quiet. */
void cs_tool_print_report(const char *where, const cs_report_t *report, gboolean quiet);
