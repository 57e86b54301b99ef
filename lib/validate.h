/* Record validation: every rule the certificates' regulations and the card impose.
 * Each problem is reported with the member's JSON path, a stable code
 * (docs/validation-codes.md) and a translated message; validation never stops at the first. */
#pragma once

#include <glib.h>

#include "catalogue.h"
#include "date.h"
#include "photo.h"
#include "record.h"
#include "report.h"

G_BEGIN_DECLS

typedef enum {
  CS_PURPOSE_PRINT,    /* a card will be printed: photo required, must not be expired */
  CS_PURPOSE_REGISTER, /* record keeping only: an old-style certificate may lack a photo */
} cs_purpose_t;

typedef struct {
  cs_purpose_t purpose;
  cs_date_t today;           /* the validation clock; unset = today's local date */
  double photo_box_width_mm; /* the layout's photo box, for the minimum resolution */
  double photo_box_height_mm;
  guint photo_dpi;           /* the printer resolution the photo must reach */
  int max_days_ahead;        /* how far in the future a validity may start (renewals) */
  cs_photo_limits_t photo_limits;
} cs_validate_options_t;

/* Default photo box of the card layouts (a 3:4 portrait box), in millimetres. */
#define CS_PHOTO_BOX_WIDTH_MM 21.0
#define CS_PHOTO_BOX_HEIGHT_MM 28.0

void cs_validate_options_init(cs_validate_options_t *options);

/* Adds problems under path_prefix (e.g. "$.record"); TRUE when it added none. Problems
 * already in the report for a member (from parsing) are not repeated as "missing". */
gboolean cs_record_validate(const cs_record_t *record, const cs_catalogue_t *catalogue,
                            const cs_validate_options_t *options, const char *path_prefix,
                            cs_report_t *report);

/* The photo's bytes: embedded, or read from the path (relative to record->base_dir), refusing
 * files over max_bytes before reading them. */
GBytes *cs_record_load_photo(const cs_record_t *record, gsize max_bytes, GError **error);

/* Pixels needed for a box of mm millimetres at dpi. */
guint cs_mm_to_pixels(double mm, guint dpi);

G_END_DECLS
