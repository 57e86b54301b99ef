/* Shared by fuzz-credential and make-credential-seeds. */
#pragma once

/* The fuzzer's verification clock, 2027-06-01T00:00:00Z; the seeds are signed a day before it
 * with keys whose certificates run for 100 years from when they were made. Seeds made after
 * this date need a later clock here. */
#define FUZZ_CREDENTIAL_CLOCK G_GINT64_CONSTANT(1811808000)
