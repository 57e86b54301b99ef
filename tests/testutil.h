/* Shared by the test programs: where the source tree is, JSON editing helpers, and running the
 * cardspool command. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "record.h"
#include "render.h"

/* A file in the source tree, e.g. testutil_src("examples/special-operation.json"). */
char *testutil_src(const char *relative);
/* Parses text or aborts the test. */
JsonNode *testutil_parse(const char *text);
/* Sets member (a dotted path below the root, e.g. "record.photo.path") to the JSON literal
 * value, or removes it when value is NULL. Intermediate objects must exist. */
void testutil_set(JsonNode *root, const char *dotted, const char *value);
char *testutil_to_string(JsonNode *root);
/* Removes a temporary folder and everything below it. */
void testutil_remove_dir(const char *dir);
/* A valid ID number with the given 6-digit area, birth date YYYYMMDD and 3-digit sequence. */
char *testutil_id(const char *area, const char *birth, const char *seq);

/* The job of examples/special-operation.json for holder n of a test's own: the example's photo
 * embedded (the store keeps complete jobs), ID number 110105-19850312 with sequence 2n + 1
 * (odd: male, as the example's photo), certificate number "T" + the ID, the given reference. */
cs_job_t *testutil_holder_job(guint n, const char *reference);

/* The card for an example job (e.g. "examples/special-operation.json"), laid out for the given
 * sides (NULL: front and back), unsigned. Aborts the test on any error. */
cs_card_t *testutil_example_card(cs_renderer_t *renderer, const char *example,
                                 const char *const *sides);

/* How a run of a program ended, and what it printed. */
typedef struct {
  int status;
  char *out;
  char *err;
} testutil_result_t;
void testutil_result_clear(testutil_result_t *r);
/* Runs the cardspool command ($CS_TEST_CARDSPOOL) with args (NULL-terminated) and waits for
 * it: in the C.UTF-8 locale, without the test's LANGUAGE and CARDSPOOL_TOKEN; env_extra is
 * NULL or "NAME=value" strings ("NAME=" sets NAME empty, a bare "NAME" unsets it). Asserts it
 * exited (no signal) and that no sanitizer reported anything, and logs the command line, exit
 * status and output. */
testutil_result_t testutil_cardspool(const char *const *args, const char *const *env_extra);
