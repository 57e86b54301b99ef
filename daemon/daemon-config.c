/* cardspoold's key file, or embedded defaults. */
#include "daemon-config.h"

#include <string.h>
#include <unistd.h>

#include "error.h"
#include "render.h"
#include "signer.h"

void cs_daemon_config_free(cs_daemon_config_t *c) {
  if (c == NULL)
    return;
  g_free(c->state_dir);
  g_free(c->store_path);
  g_free(c->socket_path);
  g_free(c->listen);
  g_free(c->tls_cert);
  g_free(c->tls_key);
  g_free(c->tls_client_ca);
  g_free(c->key_dir);
  g_free(c->pkcs11_module);
  g_free(c->pkcs11_token);
  g_free(c->pkcs11_pin_file);
  g_free(c->trust_dir);
  g_free(c->layouts_dir);
  if (c->admin_uids)
    g_array_unref(c->admin_uids);
  if (c->printers)
    g_ptr_array_unref(c->printers);
  g_free(c);
}

static void printer_free(gpointer p) {
  cs_printer_config_t *pc = p;
  g_free(pc->name);
  g_free(pc->uri);
  g_free(pc);
}

/* $STATE_DIRECTORY (systemd's StateDirectory=), else /var/lib/cardspool for root, else the
 * user's state dir: the client finds the daemon's socket by the same rule. */
static char *default_state_dir(void) {
  const char *sd = g_getenv("STATE_DIRECTORY");
  if (sd && *sd) {
    g_auto(GStrv) dirs = g_strsplit(sd, ":", 2); /* several dirs: the first */
    return g_strdup(dirs[0]);
  }
  if (geteuid() == 0)
    return g_strdup("/var/lib/cardspool");
  return g_build_filename(g_get_user_state_dir(), "cardspool", NULL);
}

static gboolean bad(GError **error, const char *group, const char *key, const char *value,
                    const char *why) {
  g_set_error(error, CS_ERROR, CS_ERROR_INVALID, "[%s] %s = %s: %s", group, key,
              value ? value : "", why);
  return FALSE;
}

/* A string key: absent leaves *out as it is. */
static void take_string(GKeyFile *kf, const char *group, const char *key, char **out) {
  char *v = g_key_file_get_string(kf, group, key, NULL);
  if (v) {
    g_free(*out);
    *out = g_strstrip(v);
  }
}

static gboolean take_uint(GKeyFile *kf, const char *group, const char *key, guint64 lo,
                          guint64 hi, guint64 *out, GError **error) {
  g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
  if (v == NULL)
    return TRUE;
  guint64 n;
  if (!g_ascii_string_to_unsigned(g_strstrip(v), 10, lo, hi, &n, NULL)) {
    g_autofree char *why = g_strdup_printf("not a whole number from %" G_GUINT64_FORMAT
                                           " to %" G_GUINT64_FORMAT, lo, hi);
    return bad(error, group, key, v, why);
  }
  *out = n;
  return TRUE;
}

static const char *const daemon_keys[] = {
    "state-dir", "store",     "socket",        "listen",          "tls-cert",
    "tls-key",   "tls-client-ca", "key-dir",   "pkcs11-module",   "pkcs11-token",
    "pkcs11-pin-file", "trust-dir", "layouts-dir", "specimens",   "max-job-bytes",
    "max-batch-bytes", "retry-limit", "admin-uids", NULL};

static gboolean load_daemon_group(cs_daemon_config_t *c, GKeyFile *kf, GError **error) {
  const char *g = "daemon";
  if (!g_key_file_has_group(kf, g))
    return TRUE;
  g_auto(GStrv) keys = g_key_file_get_keys(kf, g, NULL, NULL);
  for (guint i = 0; keys && keys[i]; i++)
    if (!g_strv_contains(daemon_keys, keys[i]))
      return bad(error, g, keys[i], NULL, "unknown key");
  take_string(kf, g, "state-dir", &c->state_dir);
  take_string(kf, g, "store", &c->store_path);
  take_string(kf, g, "socket", &c->socket_path);
  take_string(kf, g, "listen", &c->listen);
  take_string(kf, g, "tls-cert", &c->tls_cert);
  take_string(kf, g, "tls-key", &c->tls_key);
  take_string(kf, g, "tls-client-ca", &c->tls_client_ca);
  take_string(kf, g, "key-dir", &c->key_dir);
  take_string(kf, g, "pkcs11-module", &c->pkcs11_module);
  take_string(kf, g, "pkcs11-token", &c->pkcs11_token);
  take_string(kf, g, "pkcs11-pin-file", &c->pkcs11_pin_file);
  take_string(kf, g, "trust-dir", &c->trust_dir);
  take_string(kf, g, "layouts-dir", &c->layouts_dir);
  if (g_key_file_has_key(kf, g, "specimens", NULL)) {
    g_autoptr(GError) e = NULL;
    c->specimens = g_key_file_get_boolean(kf, g, "specimens", &e);
    if (e) {
      g_autofree char *v = g_key_file_get_string(kf, g, "specimens", NULL);
      return bad(error, g, "specimens", v, "not true or false");
    }
  }
  guint64 n = c->max_job_bytes;
  if (!take_uint(kf, g, "max-job-bytes", 1024, G_MAXUINT32, &n, error))
    return FALSE;
  c->max_job_bytes = n;
  n = c->max_batch_bytes;
  if (!take_uint(kf, g, "max-batch-bytes", 1024, G_MAXUINT32, &n, error))
    return FALSE;
  c->max_batch_bytes = n;
  n = c->retry_limit;
  if (!take_uint(kf, g, "retry-limit", 1, 1000, &n, error))
    return FALSE;
  c->retry_limit = (guint)n;
  if (g_key_file_has_key(kf, g, "admin-uids", NULL)) {
    g_auto(GStrv) uids = g_key_file_get_string_list(kf, g, "admin-uids", NULL, NULL);
    g_array_set_size(c->admin_uids, 0);
    for (guint i = 0; uids && uids[i]; i++) {
      guint64 u;
      if (!g_ascii_string_to_unsigned(g_strstrip(uids[i]), 10, 0, G_MAXUINT32, &u, NULL))
        return bad(error, g, "admin-uids", uids[i], "not a user id");
      uid_t uid = (uid_t)u;
      g_array_append_val(c->admin_uids, uid);
    }
  }
  return TRUE;
}

static gboolean load_printers(cs_daemon_config_t *c, GKeyFile *kf, GError **error) {
  g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
  for (guint i = 0; groups[i]; i++) {
    if (g_str_equal(groups[i], "daemon"))
      continue;
    if (!g_str_has_prefix(groups[i], "printer ")) {
      g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                  "[%s]: unknown section (known: [daemon], [printer NAME])", groups[i]);
      return FALSE;
    }
    const char *name = groups[i] + strlen("printer ");
    if (*name == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789-_.") != strlen(name))
      return bad(error, groups[i], "name", name, "a printer name is letters, digits, - _ .");
    cs_printer_config_t *pc = g_new0(cs_printer_config_t, 1);
    pc->name = g_strdup(name);
    cs_printer_settings_init(&pc->settings);
    g_ptr_array_add(c->printers, pc);
    g_auto(GStrv) keys = g_key_file_get_keys(kf, groups[i], NULL, NULL);
    for (guint k = 0; keys && keys[k]; k++) {
      g_autofree char *v = g_key_file_get_string(kf, groups[i], keys[k], NULL);
      g_strstrip(v);
      if (g_str_equal(keys[k], "uri")) {
        g_free(pc->uri);
        pc->uri = g_strdup(v);
        continue;
      }
      g_autoptr(GError) e = NULL;
      if (!cs_printer_settings_set(&pc->settings, keys[k], v, &e))
        return bad(error, groups[i], keys[k], v, e->message);
    }
    if (pc->uri == NULL || strstr(pc->uri, "://") == NULL)
      return bad(error, groups[i], "uri", pc->uri, "each printer needs a device URI");
    for (guint j = 0; j + 1 < c->printers->len; j++)
      if (g_str_equal(((cs_printer_config_t *)c->printers->pdata[j])->name, name))
        return bad(error, groups[i], "name", name, "two printers of that name");
  }
  return TRUE;
}

cs_daemon_config_t *cs_daemon_config_load(const char *path, const char *state_dir,
                                          GError **error) {
  g_autoptr(cs_daemon_config_t) c = g_new0(cs_daemon_config_t, 1);
  c->max_job_bytes = 16 << 20;
  c->max_batch_bytes = 256 << 20;
  c->retry_limit = 5;
  c->admin_uids = g_array_new(FALSE, FALSE, sizeof(uid_t));
  uid_t root = 0, self = geteuid();
  g_array_append_val(c->admin_uids, root);
  if (self != 0)
    g_array_append_val(c->admin_uids, self);
  c->printers = g_ptr_array_new_with_free_func(printer_free);
  c->listen = g_strdup("127.0.0.1:8631");
  if (path) {
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) e = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
      g_set_error(error, CS_ERROR, e->domain == G_FILE_ERROR ? CS_ERROR_IO : CS_ERROR_INVALID,
                  "%s: %s", path, e->message);
      return NULL;
    }
    if (!load_daemon_group(c, kf, error) || !load_printers(c, kf, error)) {
      g_prefix_error(error, "%s: ", path);
      return NULL;
    }
  }
  if (state_dir) {
    g_free(c->state_dir);
    c->state_dir = g_strdup(state_dir);
  }
  if (c->state_dir == NULL)
    c->state_dir = default_state_dir();
  if (!g_path_is_absolute(c->state_dir)) {
    char *abs = g_canonicalize_filename(c->state_dir, NULL);
    g_free(c->state_dir);
    c->state_dir = abs;
  }
  if (c->store_path == NULL)
    c->store_path = g_build_filename(c->state_dir, "store.sqlite", NULL);
  if (c->socket_path == NULL)
    c->socket_path = g_build_filename(c->state_dir, "cardspoold.sock", NULL);
  if (c->key_dir == NULL)
    c->key_dir = g_build_filename(c->state_dir, "keys", NULL);
  if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
    g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                "%s: [daemon] tls-cert and tls-key go together", path ? path : "defaults");
    return NULL;
  }
  if (c->printers->len == 0) {
    /* the embedded default: the simulated printer, so the main job needs no hardware */
    cs_printer_config_t *pc = g_new0(cs_printer_config_t, 1);
    pc->name = g_strdup("simulated");
    g_autofree char *dir = g_build_filename(c->state_dir, "printer", NULL);
    pc->uri = g_strconcat("file://", dir, NULL);
    cs_printer_settings_init(&pc->settings);
    g_ptr_array_add(c->printers, pc);
  }
  return g_steal_pointer(&c);
}

/* ---- the files a card needs ---- */

/* Thorough: with the pinned fonts, each layout laid out as a blank card (every static text and
 * picture of every side). Else the layout files alone: loading the fonts takes a second, and
 * the spooler's workers check them before the daemon listens anyway. */
static gboolean check_layouts(gboolean thorough, GError **error) {
  g_autoptr(cs_catalogue_t) catalogue = thorough ? cs_catalogue_load_default(error) : NULL;
  g_autoptr(cs_renderer_t) renderer = catalogue ? cs_renderer_new(catalogue, NULL, error) : NULL;
  if (thorough && renderer == NULL)
    return FALSE;
  for (int t = CS_CERT_SPECIAL_OPERATION; t <= CS_CERT_SAFETY_COMPETENCE; t++) {
    cs_cert_type_t type = (cs_cert_type_t)t;
    g_autoptr(cs_layout_t) own = NULL;
    const cs_layout_t *layout = NULL;
    gboolean ok;
    if (renderer) {
      layout = cs_renderer_layout(renderer, NULL, type, error);
      g_autoptr(cs_card_t) card =
          layout ? cs_card_new(renderer, layout, NULL, NULL, NULL, error) : NULL;
      ok = card != NULL;
    } else {
      layout = own = cs_layout_load_named(cs_layout_default_name(type), error);
      ok = layout != NULL;
      if (ok && layout->type != type) {
        g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, "%s.json is for %s certificates",
                    cs_layout_default_name(type), cs_cert_type_to_code(layout->type));
        ok = FALSE;
      }
    }
    if (!ok) {
      g_prefix_error(error, "layout of %s certificates (folder %s): ", cs_cert_type_to_code(type),
                     cs_layouts_dir());
      return FALSE;
    }
  }
  return TRUE;
}

/* The names the spooler would look a key up by (spooler.c, safe_code). */
static gboolean key_folder_name(const char *name) {
  return *name && name[0] != '.' &&
         strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
             strlen(name);
}

static gboolean check_keys(const cs_daemon_config_t *c, GError **error) {
  if (c->pkcs11_module && *c->pkcs11_module)
    return TRUE;
  g_autoptr(GDir) dir = g_dir_open(c->key_dir, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name(dir));) {
    g_autofree char *folder = g_build_filename(c->key_dir, name, NULL);
    if (!key_folder_name(name) || !g_file_test(folder, G_FILE_TEST_IS_DIR))
      continue;
    g_autofree char *key = g_build_filename(folder, "key.pem", NULL);
    g_autofree char *cert = g_build_filename(folder, "cert.pem", NULL);
    gboolean has_key = g_file_test(key, G_FILE_TEST_EXISTS);
    gboolean has_cert = g_file_test(cert, G_FILE_TEST_EXISTS);
    if (!has_key && has_cert) {
      g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                  "signing key of issuing authority “%s”: %s is missing beside its certificate "
                  "%s: put the private key back, or move the folder out of %s", name, key, cert,
                  c->key_dir);
      return FALSE;
    }
    if (!has_key)
      continue;
    g_autoptr(GError) local = NULL;
    g_autoptr(cs_signer_t) signer = cs_signer_load_pem(key, has_cert ? cert : NULL, &local);
    if (signer == NULL) {
      g_set_error(error, local->domain, local->code, "signing key of issuing authority “%s”: %s",
                  name, local->message);
      return FALSE;
    }
  }
  return TRUE;
}

/* As the API loads it for /v1/verify (server.c, load_trust). */
static gboolean check_trust(const cs_daemon_config_t *c, GError **error) {
  if (c->trust_dir && *c->trust_dir) {
    g_autoptr(cs_trust_t) trust = cs_trust_load(c->trust_dir, error);
    return trust != NULL;
  }
  g_autoptr(cs_trust_t) trust = cs_trust_new();
  g_autoptr(GDir) dir = g_dir_open(c->key_dir, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name(dir));) {
    g_autofree char *cert = g_build_filename(c->key_dir, name, "cert.pem", NULL);
    if (g_file_test(cert, G_FILE_TEST_IS_REGULAR) && !cs_trust_add_file(trust, cert, error)) {
      g_prefix_error(error, "trust store: ");
      return FALSE;
    }
  }
  return TRUE;
}

gboolean cs_daemon_config_check_files(const cs_daemon_config_t *config, gboolean thorough,
                                      GError **error) {
  g_return_val_if_fail(config != NULL, FALSE);
  return check_layouts(thorough, error) && check_keys(config, error) &&
         check_trust(config, error);
}
