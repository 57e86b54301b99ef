#include "date.h"

#include <string.h>

gboolean cs_date_is_set(cs_date_t d) { return d.year != 0; }

gboolean cs_date_valid(guint year, guint month, guint day) {
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
         g_date_valid_dmy((GDateDay)day, (GDateMonth)month, (GDateYear)year);
}

gboolean cs_date_parse(const char *text, cs_date_t *out, gboolean *not_a_day) {
  *out = CS_DATE_UNSET;
  if (not_a_day)
    *not_a_day = FALSE;
  if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
    return FALSE;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !g_ascii_isdigit(text[i]))
      return FALSE;
  guint y = (guint)g_ascii_strtoull(text, NULL, 10);
  guint m = (guint)g_ascii_strtoull(text + 5, NULL, 10);
  guint d = (guint)g_ascii_strtoull(text + 8, NULL, 10);
  if (!cs_date_valid(y, m, d)) {
    if (not_a_day)
      *not_a_day = TRUE;
    return FALSE;
  }
  *out = (cs_date_t){(guint16)y, (guint8)m, (guint8)d};
  return TRUE;
}

char *cs_date_format(cs_date_t d) {
  return g_strdup_printf("%04u-%02u-%02u", d.year, d.month, d.day);
}

int cs_date_compare(cs_date_t a, cs_date_t b) {
  if (a.year != b.year)
    return a.year < b.year ? -1 : 1;
  if (a.month != b.month)
    return a.month < b.month ? -1 : 1;
  if (a.day != b.day)
    return a.day < b.day ? -1 : 1;
  return 0;
}

cs_date_t cs_date_add_years(cs_date_t d, int years) {
  int y = (int)d.year + years;
  guint8 day = d.day;
  if (d.month == 2 && day == 29 && !g_date_is_leap_year((GDateYear)y))
    day = 28;
  return (cs_date_t){(guint16)y, d.month, day};
}

static GDate to_gdate(cs_date_t d) {
  GDate g;
  g_date_clear(&g, 1);
  g_date_set_dmy(&g, d.day, d.month, d.year);
  return g;
}

cs_date_t cs_date_add_days(cs_date_t d, int days) {
  GDate g = to_gdate(d);
  if (days >= 0)
    g_date_add_days(&g, (guint)days);
  else
    g_date_subtract_days(&g, (guint)-days);
  return (cs_date_t){(guint16)g_date_get_year(&g), (guint8)g_date_get_month(&g),
                     (guint8)g_date_get_day(&g)};
}

gint64 cs_date_to_days(cs_date_t d) {
  GDate g = to_gdate(d);
  return (gint64)g_date_get_julian(&g);
}

int cs_date_years_between(cs_date_t a, cs_date_t b) {
  int years = (int)b.year - (int)a.year;
  if (b.month < a.month || (b.month == a.month && b.day < a.day))
    years--;
  return years;
}

cs_date_t cs_date_today(void) {
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  return (cs_date_t){(guint16)g_date_time_get_year(now), (guint8)g_date_time_get_month(now),
                     (guint8)g_date_time_get_day_of_month(now)};
}
