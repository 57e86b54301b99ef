#include "idnumber.h"

#include <string.h>

static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};

char cs_id_number_check_char(const char *first17) {
  int sum = 0;
  for (int i = 0; i < 17; i++) {
    if (!g_ascii_isdigit(first17[i]))
      return 0;
    sum += (first17[i] - '0') * weights[i];
  }
  return "10X98765432"[sum % 11];
}

gboolean cs_id_province_known(int code) {
  /* GB/T 2260 province-level codes: 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81, 82 */
  return (code >= 11 && code <= 15) || (code >= 21 && code <= 23) ||
         (code >= 31 && code <= 37) || (code >= 41 && code <= 46) ||
         (code >= 50 && code <= 54) || (code >= 61 && code <= 65) || code == 71 ||
         code == 81 || code == 82;
}

cs_date_t cs_id_number_birth_date(const char *id) {
  cs_date_t d = CS_DATE_UNSET;
  if (id == NULL || strlen(id) != CS_ID_NUMBER_LENGTH)
    return d;
  char buf[11];
  /* YYYYMMDD at offset 6 -> YYYY-MM-DD, reusing the one strict date parser */
  memcpy(buf, id + 6, 4);
  buf[4] = '-';
  memcpy(buf + 5, id + 10, 2);
  buf[7] = '-';
  memcpy(buf + 8, id + 12, 2);
  buf[10] = 0;
  cs_date_parse(buf, &d, NULL);
  return d;
}

gboolean cs_id_number_is_male(const char *id) { return ((id[16] - '0') & 1) == 1; }

cs_id_status_t cs_id_number_check(const char *id) {
  if (id == NULL || strlen(id) != CS_ID_NUMBER_LENGTH)
    return CS_ID_LENGTH;
  for (int i = 0; i < 17; i++)
    if (!g_ascii_isdigit(id[i]))
      return CS_ID_CHARS;
  if (!g_ascii_isdigit(id[17]) && id[17] != 'X')
    return CS_ID_CHARS;
  if (!cs_id_province_known((id[0] - '0') * 10 + (id[1] - '0')))
    return CS_ID_PROVINCE;
  if (!cs_date_is_set(cs_id_number_birth_date(id)))
    return CS_ID_BIRTH_DATE;
  if (cs_id_number_check_char(id) != id[17])
    return CS_ID_CHECKSUM;
  return CS_ID_OK;
}
