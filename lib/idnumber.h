/* Resident identity number (GB 11643-1999): 6-digit address code, 8-digit birth date,
 * 3-digit sequence (odd = male), ISO 7064 MOD 11-2 check character. */
#pragma once

#include <glib.h>

#include "date.h"

G_BEGIN_DECLS

#define CS_ID_NUMBER_LENGTH 18

typedef enum {
  CS_ID_OK = 0,
  CS_ID_LENGTH,      /* not 18 characters */
  CS_ID_CHARS,       /* not 17 digits plus a digit or upper-case X */
  CS_ID_PROVINCE,    /* first two digits are no province code */
  CS_ID_BIRTH_DATE,  /* digits 7-14 are no real date */
  CS_ID_CHECKSUM,    /* check character does not match */
} cs_id_status_t;

/* The check character for the first 17 digits ('0'-'9' or 'X'), or 0 if they are not digits. */
char cs_id_number_check_char(const char *first17);
cs_id_status_t cs_id_number_check(const char *id);
/* Only meaningful once cs_id_number_check() returned at least past CS_ID_BIRTH_DATE. */
cs_date_t cs_id_number_birth_date(const char *id);
gboolean cs_id_number_is_male(const char *id);
gboolean cs_id_province_known(int code);

G_END_DECLS
