#include "record.h"

#include <string.h>

cs_record_t *cs_record_new(void) {
  cs_record_t *r = g_new0(cs_record_t, 1);
  r->reviews = g_array_new(FALSE, TRUE, sizeof(cs_review_t));
  return r;
}

void cs_record_free(cs_record_t *r) {
  if (r == NULL)
    return;
  g_free(r->certificate_number);
  g_free(r->name);
  g_free(r->id_number);
  g_free(r->photo.path);
  g_clear_pointer(&r->photo.data, g_bytes_unref);
  g_free(r->category);
  g_free(r->item);
  g_free(r->personnel_type);
  g_free(r->industry);
  g_free(r->issuing_authority);
  g_free(r->issuing_authority_code);
  g_array_unref(r->reviews);
  g_free(r->archive_code);
  g_free(r->remarks);
  g_free(r->base_dir);
  g_free(r);
}

cs_record_t *cs_record_copy(const cs_record_t *s) {
  cs_record_t *r = cs_record_new();
  GArray *reviews = r->reviews;
  *r = *s;
  r->reviews = reviews;
  g_array_append_vals(r->reviews, s->reviews->data, s->reviews->len);
  r->certificate_number = g_strdup(s->certificate_number);
  r->name = g_strdup(s->name);
  r->id_number = g_strdup(s->id_number);
  r->photo.path = g_strdup(s->photo.path);
  r->photo.data = s->photo.data ? g_bytes_ref(s->photo.data) : NULL;
  r->category = g_strdup(s->category);
  r->item = g_strdup(s->item);
  r->personnel_type = g_strdup(s->personnel_type);
  r->industry = g_strdup(s->industry);
  r->issuing_authority = g_strdup(s->issuing_authority);
  r->issuing_authority_code = g_strdup(s->issuing_authority_code);
  r->archive_code = g_strdup(s->archive_code);
  r->remarks = g_strdup(s->remarks);
  r->base_dir = g_strdup(s->base_dir);
  return r;
}

static gboolean bytes_equal(GBytes *a, GBytes *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return g_bytes_equal(a, b);
}

/* Equality of everything serialised (base_dir is not). */
gboolean cs_record_equal(const cs_record_t *a, const cs_record_t *b) {
  if (a->type != b->type || a->sex != b->sex || a->extended_review != b->extended_review ||
      a->old_style != b->old_style || a->card_serial != b->card_serial ||
      cs_date_compare(a->first_issue_date, b->first_issue_date) != 0 ||
      cs_date_compare(a->valid_from, b->valid_from) != 0 ||
      cs_date_compare(a->valid_until, b->valid_until) != 0 ||
      cs_date_compare(a->review_due, b->review_due) != 0 ||
      a->reviews->len != b->reviews->len || !bytes_equal(a->photo.data, b->photo.data))
    return FALSE;
  const char *sa[] = {a->certificate_number, a->name, a->id_number, a->photo.path, a->category,
                      a->item, a->personnel_type, a->industry, a->issuing_authority,
                      a->issuing_authority_code, a->archive_code, a->remarks};
  const char *sb[] = {b->certificate_number, b->name, b->id_number, b->photo.path, b->category,
                      b->item, b->personnel_type, b->industry, b->issuing_authority,
                      b->issuing_authority_code, b->archive_code, b->remarks};
  for (guint i = 0; i < G_N_ELEMENTS(sa); i++)
    if (g_strcmp0(sa[i], sb[i]) != 0)
      return FALSE;
  for (guint i = 0; i < a->reviews->len; i++) {
    cs_review_t *ra = &g_array_index(a->reviews, cs_review_t, i);
    cs_review_t *rb = &g_array_index(b->reviews, cs_review_t, i);
    if (cs_date_compare(ra->due, rb->due) != 0 || cs_date_compare(ra->done, rb->done) != 0)
      return FALSE;
  }
  return TRUE;
}

void cs_job_free(cs_job_t *job) {
  if (job == NULL)
    return;
  g_free(job->reference);
  cs_record_free(job->record);
  g_free(job);
}

const char *cs_sex_to_code(cs_sex_t sex) {
  switch (sex) {
  case CS_SEX_MALE:
    return "male";
  case CS_SEX_FEMALE:
    return "female";
  case CS_SEX_UNSET:
    break;
  }
  return NULL;
}
