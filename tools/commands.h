/* Private to the cardspool command: one function per subcommand. */
#pragma once

#include <glib.h>

/* Exit codes, documented in `cardspool --help` and the README. */
enum {
  CS_EXIT_OK = 0,
  CS_EXIT_INVALID = 1, /* input read, but problems found */
  CS_EXIT_USAGE = 2,   /* bad command line */
  CS_EXIT_IO = 3,      /* a file or the data folder could not be read */
};

#include "report.h"

int cs_cmd_validate(int argc, char **argv);
int cs_cmd_render(int argc, char **argv);

/* One line per problem, FILE[:LINE]: JSON-PATH: CODE: MESSAGE; or "FILE: OK" unless quiet. */
void cs_tool_print_report(const char *where, const cs_report_t *report, gboolean quiet);
