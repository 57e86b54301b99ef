/* Calendar dates as certificates print them: no time, no zone. ISO 8601 extended form
 * (YYYY-MM-DD, GB/T 7408) is the only accepted text form. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint16 year; /* 0 = unset */
  guint8 month;
  guint8 day;
} cs_date_t;

#define CS_DATE_UNSET ((cs_date_t){0, 0, 0})

gboolean cs_date_is_set(cs_date_t d);
/* FALSE if text is not YYYY-MM-DD; *out unset. *not_a_day set when the form is right but the
 * day does not exist (2023-02-30), so callers can say which. */
gboolean cs_date_parse(const char *text, cs_date_t *out, gboolean *not_a_day);
gboolean cs_date_valid(guint year, guint month, guint day);
char *cs_date_format(cs_date_t d); /* YYYY-MM-DD, newly allocated */
int cs_date_compare(cs_date_t a, cs_date_t b);
/* Same month and day N years later; 29 February becomes 28 February in a common year. */
cs_date_t cs_date_add_years(cs_date_t d, int years);
cs_date_t cs_date_add_days(cs_date_t d, int days);
/* Whole years from a to b (an age), negative if b is before a. */
int cs_date_years_between(cs_date_t a, cs_date_t b);
cs_date_t cs_date_today(void); /* local date; SOURCE_DATE_EPOCH is not consulted here */
gint64 cs_date_to_days(cs_date_t d); /* days since 0001-01-01, for arithmetic */

G_END_DECLS
