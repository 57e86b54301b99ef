/* Record fields as printed on the card. Codes become the catalogue's names here, at the last
 * moment, so that a catalogue update reaches the next card printed. */
#include <string.h>

#include "record.h"

static char *date_text(cs_date_t d, gboolean zh) {
  if (!cs_date_is_set(d))
    return g_strdup("");
  if (zh)
    return g_strdup_printf("%04u年%02u月%02u日", d.year, d.month, d.day);
  return cs_date_format(d);
}

static char *entry_name(const cs_catalogue_entry_t *e, const char *code) {
  return g_strdup(e ? e->name : (code ? code : ""));
}

static char *review_text(const cs_record_t *r, const char *field, gboolean zh) {
  /* review.N.due / review.N.done, N from 1 */
  int n = field[7] - '0';
  if (n < 1 || (guint)n > r->reviews->len)
    return g_strdup("");
  const cs_review_t *rev = &g_array_index(r->reviews, cs_review_t, n - 1);
  return date_text(g_str_has_suffix(field, ".due") ? rev->due : rev->done, zh);
}

char *cs_record_field_text(const cs_record_t *r, const cs_catalogue_t *cat, const char *field,
                           gboolean zh) {
  const cs_cert_type_info_t *t = cs_catalogue_type(cat, r->type);
  if (g_str_equal(field, "title"))
    return g_strdup(t ? t->title : "");
  if (g_str_equal(field, "name"))
    return g_strdup(r->name ? r->name : "");
  if (g_str_equal(field, "sex"))
    return g_strdup(r->sex == CS_SEX_MALE ? "男" : r->sex == CS_SEX_FEMALE ? "女" : "");
  if (g_str_equal(field, "certificate_number"))
    return g_strdup(r->certificate_number ? r->certificate_number : "");
  if (g_str_equal(field, "id_number"))
    return g_strdup(r->id_number ? r->id_number : "");
  if (g_str_equal(field, "category"))
    return entry_name(r->category ? cs_catalogue_find_category(cat, r->category) : NULL,
                      r->category);
  if (g_str_equal(field, "item"))
    return entry_name(r->item ? cs_catalogue_find_item(cat, r->item, NULL) : NULL, r->item);
  if (g_str_equal(field, "personnel_type"))
    return entry_name(
        r->personnel_type ? cs_catalogue_find_personnel_type(cat, r->personnel_type) : NULL,
        r->personnel_type);
  if (g_str_equal(field, "industry"))
    return entry_name(r->industry ? cs_catalogue_find_industry(cat, r->industry) : NULL,
                      r->industry);
  if (g_str_equal(field, "first_issue_date"))
    return date_text(r->first_issue_date, zh);
  if (g_str_equal(field, "valid_from"))
    return date_text(r->valid_from, zh);
  if (g_str_equal(field, "valid_until"))
    return date_text(r->valid_until, zh);
  if (g_str_equal(field, "validity")) {
    if (!cs_date_is_set(r->valid_from) || !cs_date_is_set(r->valid_until))
      return g_strdup("");
    g_autofree char *a = date_text(r->valid_from, zh), *b = date_text(r->valid_until, zh);
    return g_strconcat(a, "至", b, NULL);
  }
  if (g_str_equal(field, "review_due"))
    return date_text(r->review_due, zh);
  if (g_str_equal(field, "issuing_authority"))
    return g_strdup(r->issuing_authority ? r->issuing_authority : "");
  if (g_str_equal(field, "archive_code"))
    return g_strdup(r->archive_code ? r->archive_code : "");
  if (g_str_equal(field, "remarks"))
    return g_strdup(r->remarks ? r->remarks : "");
  if (g_str_equal(field, "card_serial")) {
    if (r->card_serial <= 0)
      return g_strdup("");
    return g_strdup_printf("No. %s-%08" G_GINT64_FORMAT,
                           r->issuing_authority_code ? r->issuing_authority_code : "",
                           r->card_serial);
  }
  if (g_str_has_prefix(field, "review.") && strlen(field) > 9)
    return review_text(r, field, zh);
  return NULL;
}
