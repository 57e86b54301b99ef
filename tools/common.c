/* Shared by the cardspool subcommands. */
#include <stdio.h>

#include "commands.h"

void cs_tool_print_report(const char *where, const cs_report_t *report, gboolean quiet) {
  if (cs_report_count(report) == 0) {
    if (!quiet)
      printf("%s: OK\n", where);
    return;
  }
  for (guint i = 0; i < cs_report_count(report); i++) {
    const cs_problem_t *p = cs_report_get(report, i);
    printf("%s: %s: %s: %s\n", where, p->path, p->code, p->message);
  }
}
