/* Property: for 1,000 random records, 40 random single-bit changes of each credential's COSE
 * bytes are all rejected (seeded: a failure replays), and none crashes the verifier. */
#include <string.h>

#include "base45.h"
#include "cardspool.h"
#include "testutil.h"

#define N_RECORDS 1000
#define FLIPS 40

static const char *const pool[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                   "建", "国", "华", "明", "丽", "强", "军", "买", "提", "·"};

static void test_tamper(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-tamper-XXXXXX", NULL);
  g_autofree char *key = g_build_filename(dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(dir, "cert.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_keygen(CS_ALG_ES256, "test", "110000", 30, key, cert, &error));
  g_autoptr(cs_signer_t) signer = cs_signer_load_pem(key, cert, &error);
  g_autoptr(cs_trust_t) trust = cs_trust_new();
  g_assert_true(cs_trust_add_file(trust, cert, &error));
  g_autofree char *path = testutil_src("examples/special-operation.json");
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(path, report, &error);
  g_assert_no_error(error);
  GRand *rng = g_rand_new_with_seed(20261129);
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  guint outcomes[6] = {0};
  for (int i = 0; i < N_RECORDS; i++) {
    g_autoptr(cs_record_t) r = cs_record_copy(job->record);
    GString *name = g_string_new(NULL);
    int len = g_rand_int_range(rng, 1, 9);
    for (int k = 0; k < len; k++)
      g_string_append(name, pool[g_rand_int_range(rng, 0, k == 0 || k == len - 1 ? 19 : 20)]);
    g_free(r->name);
    r->name = g_string_free(name, FALSE);
    r->card_serial = g_rand_int_range(rng, 1, G_MAXINT32);
    guint8 hash[CS_PHOTO_HASH_LENGTH];
    for (int k = 0; k < CS_PHOTO_HASH_LENGTH; k++)
      hash[k] = (guint8)g_rand_int_range(rng, 0, 256);
    g_autoptr(GBytes) claims = cs_credential_claims(r, hash, now, &error);
    g_assert_no_error(error);
    g_autofree char *text = cs_credential_sign(claims, signer, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(cs_verify_result_t) ok = cs_credential_verify(text, NULL, trust, now + 60);
    g_assert_cmpint(ok->status, ==, CS_VERIFY_VALID);
    g_assert_cmpstr(ok->record->name, ==, r->name);
    g_autoptr(GBytes) cose = cs_base45_decode(text + 5, strlen(text + 5), NULL);
    gsize n = 0;
    const guint8 *orig = g_bytes_get_data(cose, &n);
    g_autofree guint8 *buf = g_memdup2(orig, n);
    for (int f = 0; f < FLIPS; f++) {
      gsize bit = (gsize)g_rand_int_range(rng, 0, (gint32)(n * 8));
      buf[bit / 8] ^= (guint8)(1u << (bit % 8));
      g_autofree char *b45 = cs_base45_encode(buf, n);
      g_autofree char *t = g_strconcat("SOC1:", b45, NULL);
      g_autoptr(cs_verify_result_t) v = cs_credential_verify(t, NULL, trust, now + 60);
      if (v->status == CS_VERIFY_VALID)
        g_error("record %d, bit %zu: still verifies", i, bit);
      outcomes[v->status]++;
      buf[bit / 8] ^= (guint8)(1u << (bit % 8));
    }
  }
  g_rand_free(rng);
  g_test_message("%d records x %d flips: bad signature %u, unknown signer %u, malformed %u, "
                 "other %u",
                 N_RECORDS, FLIPS, outcomes[CS_VERIFY_BAD_SIGNATURE],
                 outcomes[CS_VERIFY_UNKNOWN_SIGNER], outcomes[CS_VERIFY_MALFORMED],
                 outcomes[CS_VERIFY_EXPIRED] + outcomes[CS_VERIFY_NOT_YET_VALID]);
  g_assert_cmpuint(outcomes[CS_VERIFY_BAD_SIGNATURE], >, N_RECORDS * FLIPS / 2);
  testutil_remove_dir(dir);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/credential/tamper-1000-records", test_tamper);
  return g_test_run();
}
