/* Integration: the installed-shape `cardspool` binary on real files, as an operator runs it. */
#include <glib/gstdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "scan.h"
#include "testutil.h"

static void test_examples_ok(void) {
  g_autofree char *a = testutil_src("examples/special-operation.json");
  g_autofree char *b = testutil_src("examples/safety-competence.json");
  g_autofree char *c = testutil_src("examples/renewal-old-style.json");
  g_autofree char *d = testutil_src("examples/batch.jsonl");
  const char *args[] = {"validate", a, b, c, d, NULL};
  testutil_result_t r = testutil_cardspool(args, NULL);
  g_assert_cmpint(r.status, ==, 0);
  guint ok = 0;
  for (const char *p = r.out; (p = strstr(p, ": OK\n")); p++)
    ok++;
  g_assert_cmpuint(ok, ==, 6);
  testutil_result_clear(&r);
}

static void test_invalid_lines(void) {
  g_autofree char *bad = testutil_src("examples/invalid/typos-and-mistakes.json");
  const char *args[] = {"validate", bad, NULL};
  testutil_result_t r = testutil_cardspool(args, NULL);
  g_assert_cmpint(r.status, ==, 1);
  /* FILE: PATH: CODE: MESSAGE, one per line */
  g_autofree char *want1 = g_strdup_printf("%s: $.record.issuing_authorty: json.unknown_member: "
                                           "unknown member \"issuing_authorty\"; did you mean "
                                           "\"issuing_authority\"?\n",
                                           bad);
  g_assert_nonnull(strstr(r.out, want1));
  g_assert_nonnull(strstr(r.out, ": $.record.id_number: id_number.checksum: "));
  g_assert_nonnull(strstr(r.out, ": $.record.item: item.category_mismatch: "));
  g_assert_nonnull(strstr(r.out, ": $.record.valid_until: valid_until.length: "));
  g_assert_nonnull(strstr(r.out, ": $.record.photo: photo.unreadable: "));
  g_assert_null(strstr(r.out, "OK"));
  testutil_result_clear(&r);
}

static void test_chinese_messages_same_codes(void) {
  g_autofree char *bad = testutil_src("examples/invalid/typos-and-mistakes.json");
  const char *args[] = {"validate", bad, NULL};
  testutil_result_t en = testutil_cardspool(args, NULL);
  const char *zh_env[] = {"LANGUAGE=zh_CN", NULL};
  testutil_result_t zh = testutil_cardspool(args, zh_env);
  /* Operators with LANG=zh_CN.UTF-8 but no generated zh_CN locale still read Chinese. */
  const char *lang_env[] = {"LC_ALL=", "LANG=zh_CN.UTF-8", NULL};
  testutil_result_t lang = testutil_cardspool(args, lang_env);
  g_assert_cmpint(zh.status, ==, 1);
  g_assert_nonnull(strstr(zh.out, "id_number.checksum: 校验码为 8，但按前 17 位计算应为 9"));
  g_assert_nonnull(strstr(lang.out, "校验码"));
  /* codes and paths line up one for one */
  g_auto(GStrv) le = g_strsplit(en.out, "\n", -1);
  g_auto(GStrv) lz = g_strsplit(zh.out, "\n", -1);
  g_assert_cmpuint(g_strv_length(le), ==, g_strv_length(lz));
  for (guint i = 0; le[i]; i++) {
    g_auto(GStrv) fe = g_strsplit(le[i], ": ", 4);
    g_auto(GStrv) fz = g_strsplit(lz[i], ": ", 4);
    for (guint k = 0; k < 3 && fe[k]; k++)
      g_assert_cmpstr(fe[k], ==, fz[k]);
    if (fe[0] && fe[1] && fe[2] && fe[3])
      g_assert_cmpstr(fe[3], !=, fz[3]); /* every message is translated */
  }
  testutil_result_clear(&en);
  testutil_result_clear(&zh);
  testutil_result_clear(&lang);
}

static void test_json_output(void) {
  g_autofree char *bad = testutil_src("examples/invalid/typos-and-mistakes.json");
  g_autofree char *good = testutil_src("examples/special-operation.json");
  const char *args[] = {"validate", "--json", good, bad, NULL};
  testutil_result_t r = testutil_cardspool(args, NULL);
  g_assert_cmpint(r.status, ==, 1);
  g_auto(GStrv) lines = g_strsplit(g_strstrip(r.out), "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 2);
  g_autoptr(JsonNode) a = testutil_parse(lines[0]);
  g_autoptr(JsonNode) b = testutil_parse(lines[1]);
  g_assert_true(json_object_get_boolean_member(json_node_get_object(a), "valid"));
  JsonObject *bo = json_node_get_object(b);
  g_assert_false(json_object_get_boolean_member(bo, "valid"));
  JsonArray *problems = json_object_get_array_member(bo, "problems");
  g_assert_cmpuint(json_array_get_length(problems), >=, 6);
  JsonObject *p0 = json_array_get_object_element(problems, 0);
  g_assert_cmpstr(json_object_get_string_member(p0, "code"), ==, "json.unknown_member");
  testutil_result_clear(&r);
}

static void test_jsonl_line_numbers(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *file = g_build_filename(dir, "batch.jsonl", NULL);
  g_autofree char *good_path = testutil_src("examples/special-operation.json");
  g_autofree char *good = NULL;
  g_assert_true(g_file_get_contents(good_path, &good, NULL, NULL));
  g_autoptr(JsonNode) node = testutil_parse(good);
  g_autofree char *photo = testutil_src("examples/photos/holder-male.jpg");
  JsonObject *rec = json_object_get_object_member(json_node_get_object(node), "record");
  json_object_set_string_member(json_object_get_object_member(rec, "photo"), "path", photo);
  g_autofree char *line1 = json_to_string(node, FALSE);
  json_object_set_string_member(rec, "sex", "female");
  g_autofree char *line3 = json_to_string(node, FALSE);
  g_autofree char *content = g_strdup_printf("%s\n\n%s\n{broken\n", line1, line3);
  g_assert_true(g_file_set_contents(file, content, -1, NULL));
  const char *args[] = {"validate", file, NULL};
  testutil_result_t r = testutil_cardspool(args, NULL);
  g_assert_cmpint(r.status, ==, 1);
  g_autofree char *l1 = g_strdup_printf("%s:1: OK\n", file);
  g_autofree char *l3 = g_strdup_printf("%s:3: $.record.sex: sex.mismatch: ", file);
  g_autofree char *l4 = g_strdup_printf("%s:4: $: json.syntax: ", file);
  g_assert_nonnull(strstr(r.out, l1));
  g_assert_nonnull(strstr(r.out, l3));
  g_assert_nonnull(strstr(r.out, l4));
  g_assert_null(strstr(r.out, ":2:"));
  testutil_result_clear(&r);
  g_unlink(file);
  g_rmdir(dir);
}

static void test_exit_codes(void) {
  const char *none[] = {NULL};
  testutil_result_t r = testutil_cardspool(none, NULL);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
  const char *unknown[] = {"frobnicate", NULL};
  r = testutil_cardspool(unknown, NULL);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
  const char *no_files[] = {"validate", NULL};
  r = testutil_cardspool(no_files, NULL);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
  const char *bad_opt[] = {"validate", "--purpose=sell", "x.json", NULL};
  r = testutil_cardspool(bad_opt, NULL);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
  const char *missing[] = {"validate", "/nonexistent/job.json", NULL};
  r = testutil_cardspool(missing, NULL);
  g_assert_cmpint(r.status, ==, 3);
  g_assert_nonnull(strstr(r.err, "/nonexistent/job.json"));
  testutil_result_clear(&r);
  const char *help[] = {"--help", NULL};
  r = testutil_cardspool(help, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "Exit codes"));
  g_assert_nonnull(strstr(r.out, "validate"));
  testutil_result_clear(&r);
  /* a broken data folder is an I/O failure, not "invalid input" */
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *env_kv = g_strdup_printf("CARDSPOOL_DATADIR=%s", dir);
  const char *env[] = {env_kv, NULL};
  g_autofree char *good = testutil_src("examples/special-operation.json");
  const char *args[] = {"validate", good, NULL};
  r = testutil_cardspool(args, env);
  g_assert_cmpint(r.status, ==, 3);
  g_assert_nonnull(strstr(r.err, "catalogue"));
  testutil_result_clear(&r);
  g_rmdir(dir);
}

static void test_register_purpose(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *file = g_build_filename(dir, "old.json", NULL);
  g_autofree char *src = testutil_src("examples/renewal-old-style.json");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
  g_autoptr(JsonNode) node = testutil_parse(text);
  testutil_set(node, "record.photo", NULL);
  g_autofree char *doc = json_to_string(node, TRUE);
  g_assert_true(g_file_set_contents(file, doc, -1, NULL));
  const char *print[] = {"validate", "--today=2026-11-29", file, NULL};
  testutil_result_t r = testutil_cardspool(print, NULL);
  g_assert_cmpint(r.status, ==, 1);
  g_assert_nonnull(strstr(r.out, "photo.missing"));
  testutil_result_clear(&r);
  const char *reg[] = {"validate", "--today=2026-11-29", "--purpose=register", file, NULL};
  r = testutil_cardspool(reg, NULL);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_unlink(file);
  g_rmdir(dir);
}

static void test_render_outputs(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *job = testutil_src("examples/special-operation.json");
  g_autofree char *batch = testutil_src("examples/batch.jsonl");
  const char *png[] = {"render", "--today=2026-11-29", "--format=png", "-o", dir, job, NULL};
  testutil_result_t r = testutil_cardspool(png, NULL);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  const char *planes[] = {"render", "--today=2026-11-29", "--format=planes", "--side=front",
                          "-o", dir, job, NULL};
  r = testutil_cardspool(planes, NULL);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  const char *names[] = {"special-operation-front.png", "special-operation-back.png",
                         "special-operation-front-colour.png", "special-operation-front-k.png",
                         "special-operation-front-overlay.png"};
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *p = g_build_filename(dir, names[i], NULL);
    g_assert_true(g_file_test(p, G_FILE_TEST_IS_REGULAR));
    g_unlink(p);
  }
  /* a batch into one file: one multi-page PDF, two pages a card */
  g_autofree char *pdf = g_build_filename(dir, "batch.pdf", NULL);
  const char *many[] = {"render", "--today=2026-11-29", "-o", pdf, batch, NULL};
  r = testutil_cardspool(many, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "6 pages"));
  g_assert_nonnull(strstr(r.out, "3 rendered, 0 refused"));
  testutil_result_clear(&r);
  g_autofree char *head = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(pdf, &head, &len, NULL));
  g_assert_true(len > 1000 && memcmp(head, "%PDF-", 5) == 0);
  g_unlink(pdf);
  g_rmdir(dir);
}

static void test_render_refusals(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *bad = testutil_src("examples/invalid/typos-and-mistakes.json");
  const char *args[] = {"render", "-o", dir, bad, NULL};
  testutil_result_t r = testutil_cardspool(args, NULL);
  g_assert_cmpint(r.status, ==, 1);
  g_assert_nonnull(strstr(r.out, "id_number.checksum"));
  g_assert_nonnull(strstr(r.out, "0 rendered, 1 refused"));
  testutil_result_clear(&r);
  /* valid, but a name character no pinned font has (CJK extension G): refused, named */
  g_autofree char *src = testutil_src("examples/special-operation.json");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
  g_autoptr(JsonNode) node = testutil_parse(text);
  testutil_set(node, "record.name", "\"张\xf0\xb0\x80\x80\"");
  g_autofree char *photo = testutil_src("examples/photos/holder-male.jpg");
  g_autofree char *photo_json = g_strdup_printf("\"%s\"", photo);
  testutil_set(node, "record.photo.path", photo_json);
  g_autofree char *doc = json_to_string(node, TRUE);
  g_autofree char *file = g_build_filename(dir, "rare.json", NULL);
  g_assert_true(g_file_set_contents(file, doc, -1, NULL));
  const char *rare[] = {"render", "--today=2026-11-29", "-o", dir, file, NULL};
  r = testutil_cardspool(rare, NULL);
  g_assert_cmpint(r.status, ==, 1);
  g_assert_nonnull(strstr(r.out, "render.glyph"));
  g_assert_nonnull(strstr(r.out, "“name”"));
  testutil_result_clear(&r);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *n; (n = g_dir_read_name(d));) {
    g_assert_cmpstr(n, ==, "rare.json"); /* nothing was written for either refused job */
  }
  g_unlink(file);
  g_rmdir(dir);
  const char *usage[] = {"render", "--format=tiff", "x.json", NULL};
  r = testutil_cardspool(usage, NULL);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
}

static void test_sign_and_verify(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  g_autofree char *other = g_build_filename(dir, "other", NULL);
  const char *kg[] = {"keygen", "--name", "北京市应急管理局", "--authority", "110000", "-o",
                      keys, NULL};
  testutil_result_t r = testutil_cardspool(kg, NULL);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  const char *kg2[] = {"keygen", "--alg", "EdDSA", "--name", "other", "--authority", "110000",
                       "-o", other, NULL};
  r = testutil_cardspool(kg2, NULL);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *key = g_build_filename(keys, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(keys, "cert.pem", NULL);
  g_autofree char *other_cert = g_build_filename(other, "cert.pem", NULL);
  GStatBuf st;
  g_assert_cmpint(g_stat(key, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);

  g_autofree char *job = testutil_src("examples/special-operation.json");
  g_autofree char *png_dir = g_build_filename(dir, "png", NULL);
  const char *render[] = {"render", "--today=2026-11-29", "--key", key, "--cert", cert,
                          "--format=png", "--side=front", "--dpi=300", "-o", png_dir, job, NULL};
  r = testutil_cardspool(render, NULL);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *pdf = g_build_filename(dir, "card.pdf", NULL);
  const char *render_pdf[] = {"render", "--today=2026-11-29", "--key", key, "--cert", cert,
                              "-o", pdf, job, NULL};
  r = testutil_cardspool(render_pdf, NULL);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *png = g_build_filename(png_dir, "special-operation-front.png", NULL);

  /* valid from the picture and from the PDF */
  const char *v_png[] = {"verify", "--cert", cert, png, NULL};
  r = testutil_cardspool(v_png, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "valid"));
  g_assert_nonnull(strstr(r.out, "张建国"));
  g_assert_nonnull(strstr(r.out, "T110105198503120039"));
  testutil_result_clear(&r);
  const char *v_pdf[] = {"verify", "--cert", cert, "--json", pdf, NULL};
  r = testutil_cardspool(v_pdf, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "\"status\" : \"valid\""));
  testutil_result_clear(&r);
  /* another issuer's key: unknown signer (5), and no personal data printed */
  const char *v_other[] = {"verify", "--cert", other_cert, png, NULL};
  r = testutil_cardspool(v_other, NULL);
  g_assert_cmpint(r.status, ==, 5);
  g_assert_null(strstr(r.out, "张建国"));
  testutil_result_clear(&r);
  /* after the certificate's validity: expired (6) */
  const char *v_late[] = {"verify", "--cert", cert, "--at", "2031-01-01T00:00:00+08:00", png,
                          NULL};
  r = testutil_cardspool(v_late, NULL);
  g_assert_cmpint(r.status, ==, 6);
  testutil_result_clear(&r);
  /* text that is no credential: malformed (1); a damaged signature: bad signature (4) */
  const char *v_url[] = {"verify", "--cert", cert, "https://cx.mem.gov.cn/x", NULL};
  r = testutil_cardspool(v_url, NULL);
  g_assert_cmpint(r.status, ==, 1);
  testutil_result_clear(&r);
  const char *scan_png[] = {"verify", "--cert", cert, "--json", png, NULL};
  r = testutil_cardspool(scan_png, NULL);
  testutil_result_clear(&r);
  g_auto(GStrv) codes = cs_scan_file(png, 300, NULL);
  g_assert_nonnull(codes);
  g_assert_nonnull(codes[0]);
  g_autofree char *text = g_strdup(codes[0]);
  gsize len = strlen(text);
  /* the last base45 triple holds signature bytes: change one character of it */
  text[len - 2] = text[len - 2] == '0' ? '1' : '0';
  const char *v_bad[] = {"verify", "--cert", cert, text, NULL};
  r = testutil_cardspool(v_bad, NULL);
  g_assert_cmpint(r.status, ==, 4);
  testutil_result_clear(&r);
  /* usage */
  const char *v_none[] = {"verify", png, NULL};
  r = testutil_cardspool(v_none, NULL);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
  const char *v_typo[] = {"verify", "--cert", cert, "/nonexistent/card.png", NULL};
  r = testutil_cardspool(v_typo, NULL);
  g_assert_cmpint(r.status, ==, 3);
  testutil_result_clear(&r);
  const char *v_dir[] = {"verify", "--trust", keys, png, NULL}; /* holds a private key */
  r = testutil_cardspool(v_dir, NULL);
  g_assert_cmpint(r.status, ==, 3);
  testutil_result_clear(&r);
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  g_assert_cmpint(system(cmd), ==, 0);
}

static void test_print_simulated(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *uri = g_strconcat("file://", dir, "/printer", NULL);
  g_autofree char *batch = testutil_src("examples/batch.jsonl");
  const char *args[] = {"render", "--today=2026-11-29", "--printer", uri, batch, NULL};
  testutil_result_t r = testutil_cardspool(args, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "printed on file://"));
  testutil_result_clear(&r);
  g_autofree char *log = g_build_filename(dir, "printer", "jobs.jsonl", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(g_strstrip(text), "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 3);
  g_autofree char *composite = g_build_filename(dir, "printer", "batch-2-back.png", NULL);
  g_assert_true(g_file_test(composite, G_FILE_TEST_IS_REGULAR));
  const char *bad[] = {"render", "--printer", "lpd://x", batch, NULL};
  r = testutil_cardspool(bad, NULL);
  g_assert_cmpint(r.status, ==, 3);
  g_assert_nonnull(strstr(r.err, "lpd"));
  testutil_result_clear(&r);
  /* a K ribbon cannot print the colour card: refused, not printed without its colour */
  g_autofree char *mono = g_strconcat("file://", dir, "/mono?ribbon=k", NULL);
  const char *k[] = {"render", "--today=2026-11-29", "--printer", mono, batch, NULL};
  r = testutil_cardspool(k, NULL);
  g_assert_cmpint(r.status, !=, 0);
  g_assert_nonnull(strstr(r.out, "colour ink"));
  testutil_result_clear(&r);
  g_autofree char *mono_log = g_build_filename(dir, "mono", "jobs.jsonl", NULL);
  g_assert_false(g_file_test(mono_log, G_FILE_TEST_EXISTS));
  const char *bad_setting[] = {"render", "--printer", "file:///tmp/x?ribbon=gold", batch, NULL};
  r = testutil_cardspool(bad_setting, NULL);
  g_assert_cmpint(r.status, ==, 3);
  g_assert_nonnull(strstr(r.err, "ribbon"));
  testutil_result_clear(&r);

  /* printers: a printer's state, and the exit code when it cannot be reached */
  const char *st[] = {"printers", "--status", uri, NULL};
  r = testutil_cardspool(st, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "ready"));
  testutil_result_clear(&r);
  const char *st_json[] = {"printers", "--status", "--json", uri, NULL};
  r = testutil_cardspool(st_json, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "\"state\" : \"ready\""));
  testutil_result_clear(&r);
  const char *st_bad[] = {"printers", "--status", "nosuch://x", NULL};
  r = testutil_cardspool(st_bad, NULL);
  g_assert_cmpint(r.status, ==, 4);
  testutil_result_clear(&r);
  /* the list never fails as a whole: an unreachable CUPS server is a warning */
  const char *list[] = {"printers", NULL};
  const char *no_cups[] = {"CUPS_SERVER=127.0.0.1:9", NULL};
  r = testutil_cardspool(list, no_cups);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  g_assert_cmpint(system(cmd), ==, 0);
}

/* The blank template: the checked-in QA reference is what render --blank makes, byte for byte,
 * and a specimen card of the same layout passes QA against it. */
static void test_blank_template(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *pdf = g_build_filename(dir, "blank.pdf", NULL);
  const char *args[] = {"render", "--blank", "special_operation", "-o", pdf, NULL};
  const char *epoch[] = {"SOURCE_DATE_EPOCH=0", NULL};
  testutil_result_t r = testutil_cardspool(args, epoch);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *ref = testutil_src("tests/reference/qa-special-operation-blank.pdf");
  g_autofree char *a = NULL, *b = NULL;
  gsize la = 0, lb = 0;
  g_assert_true(g_file_get_contents(pdf, &a, &la, NULL));
  g_assert_true(g_file_get_contents(ref, &b, &lb, NULL));
  g_assert_cmpmem(a, la, b, lb);
  g_autofree char *specimen = testutil_src("tests/reference/qa-special-operation-specimen.pdf");
  g_autofree char *report = g_build_filename(dir, "qa", NULL);
  const char *qa[] = {"qa", "compare", ref, specimen, "--dpi", "150", "-o", report, NULL};
  r = testutil_cardspool(qa, NULL);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "PASS"));
  testutil_result_clear(&r);
  const char *bad[] = {"render", "--blank", "driving_licence", "-o", pdf, NULL};
  r = testutil_cardspool(bad, NULL);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  g_assert_cmpint(system(cmd), ==, 0);
}

/* Each card signed by its own issuing authority's key, chosen by the record's code. */
static void test_key_dir(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-cli-XXXXXX", NULL);
  g_autofree char *keys = g_build_filename(dir, "keys", NULL);
  const char *codes[] = {"110000", "440000"};
  for (guint i = 0; i < 2; i++) {
    g_autofree char *out = g_build_filename(keys, codes[i], NULL);
    const char *kg[] = {"keygen", "--name", codes[i], "--authority", codes[i], "-o", out, NULL};
    testutil_result_t r = testutil_cardspool(kg, NULL);
    g_assert_cmpint(r.status, ==, 0);
    testutil_result_clear(&r);
  }
  g_autofree char *a = testutil_src("examples/special-operation.json");
  g_autofree char *b = testutil_src("examples/safety-competence.json");
  g_autofree char *c = testutil_src("examples/renewal-old-style.json"); /* 320500: no key */
  g_autofree char *png = g_build_filename(dir, "png", NULL);
  const char *render[] = {"render", "--today=2026-11-29", "--key-dir", keys, "--format=png",
                          "--side=front", "--dpi=300", "-o", png, a, b, c, NULL};
  testutil_result_t r = testutil_cardspool(render, NULL);
  g_assert_cmpint(r.status, ==, 1);
  g_assert_nonnull(strstr(r.out, "2 rendered, 1 refused"));
  g_assert_nonnull(strstr(r.out, "render.key"));
  testutil_result_clear(&r);
  const struct {
    const char *file, *code;
  } cards[] = {{"special-operation-front.png", "110000"}, {"safety-competence-front.png", "440000"}};
  for (guint i = 0; i < 2; i++) {
    g_autofree char *card = g_build_filename(png, cards[i].file, NULL);
    g_autofree char *cert = g_build_filename(keys, cards[i].code, "cert.pem", NULL);
    g_autofree char *wrong = g_build_filename(keys, cards[i ^ 1].code, "cert.pem", NULL);
    const char *ok[] = {"verify", "--cert", cert, card, NULL};
    r = testutil_cardspool(ok, NULL);
    g_assert_cmpint(r.status, ==, 0);
    testutil_result_clear(&r);
    const char *other[] = {"verify", "--cert", wrong, card, NULL};
    r = testutil_cardspool(other, NULL);
    g_assert_cmpint(r.status, ==, 5);
    testutil_result_clear(&r);
  }
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  g_assert_cmpint(system(cmd), ==, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/cli/examples-ok", test_examples_ok);
  g_test_add_func("/cli/invalid-lines", test_invalid_lines);
  g_test_add_func("/cli/chinese-same-codes", test_chinese_messages_same_codes);
  g_test_add_func("/cli/json-output", test_json_output);
  g_test_add_func("/cli/jsonl-line-numbers", test_jsonl_line_numbers);
  g_test_add_func("/cli/exit-codes", test_exit_codes);
  g_test_add_func("/cli/register-purpose", test_register_purpose);
  g_test_add_func("/cli/render-outputs", test_render_outputs);
  g_test_add_func("/cli/render-refusals", test_render_refusals);
  g_test_add_func("/cli/sign-and-verify", test_sign_and_verify);
  g_test_add_func("/cli/print-simulated", test_print_simulated);
  g_test_add_func("/cli/key-dir", test_key_dir);
  g_test_add_func("/cli/blank-template", test_blank_template);
  return g_test_run();
}
