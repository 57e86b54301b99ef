/* Signing with a key that never leaves a PKCS#11 token, through p11-kit. */
#include "signer.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "error.h"
#include "io.h"
#include "signer-private.h"

#define MAX_PIN_FILE 4096
#define RAW_SIG 64 /* r||s of P-256, and an Ed25519 signature */
#define P256_POINT 65
#define ED25519_POINT 32

/* CKA_EC_PARAMS: namedCurve prime256v1; edwards25519 as OID 1.3.101.112 or as the
 * PrintableString of PKCS#11 3.0. */
static const guint8 P256_PARAMS[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const guint8 ED25519_OID[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const guint8 ED25519_NAME[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
                                      's', '2', '5', '5', '1', '9'};

typedef struct {
  CK_FUNCTION_LIST *module;
  CK_SESSION_HANDLE session;
  gboolean initialized, have_session;
  char *login_key; /* set while this signer counts in logins */
  CK_OBJECT_HANDLE key;
  cs_alg_t alg;
  GMutex lock; /* a session is used by one thread at a time */
  char *what;  /* "PKCS#11 module M, token T, key K" for messages */
} p11_t;

static const char *rv_name(CK_RV rv) {
#define N(x) \
  case x: \
    return #x;
  switch (rv) {
    N(CKR_OK)
    N(CKR_HOST_MEMORY)
    N(CKR_SLOT_ID_INVALID)
    N(CKR_GENERAL_ERROR)
    N(CKR_FUNCTION_FAILED)
    N(CKR_ARGUMENTS_BAD)
    N(CKR_ATTRIBUTE_TYPE_INVALID)
    N(CKR_DATA_LEN_RANGE)
    N(CKR_DEVICE_ERROR)
    N(CKR_DEVICE_MEMORY)
    N(CKR_DEVICE_REMOVED)
    N(CKR_FUNCTION_NOT_SUPPORTED)
    N(CKR_KEY_HANDLE_INVALID)
    N(CKR_OBJECT_HANDLE_INVALID)
    N(CKR_KEY_TYPE_INCONSISTENT)
    N(CKR_KEY_FUNCTION_NOT_PERMITTED)
    N(CKR_MECHANISM_INVALID)
    N(CKR_MECHANISM_PARAM_INVALID)
    N(CKR_OPERATION_ACTIVE)
    N(CKR_PIN_INCORRECT)
    N(CKR_PIN_INVALID)
    N(CKR_PIN_LEN_RANGE)
    N(CKR_PIN_EXPIRED)
    N(CKR_PIN_LOCKED)
    N(CKR_SESSION_CLOSED)
    N(CKR_SESSION_COUNT)
    N(CKR_SESSION_HANDLE_INVALID)
    N(CKR_TOKEN_NOT_PRESENT)
    N(CKR_TOKEN_NOT_RECOGNIZED)
    N(CKR_USER_ALREADY_LOGGED_IN)
    N(CKR_USER_NOT_LOGGED_IN)
    N(CKR_USER_PIN_NOT_INITIALIZED)
    N(CKR_USER_TYPE_INVALID)
    N(CKR_BUFFER_TOO_SMALL)
    N(CKR_CRYPTOKI_NOT_INITIALIZED)
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED)
  }
#undef N
  return NULL;
}

static void set_rv_error(GError **error, const p11_t *p, const char *call, CK_RV rv) {
  const char *name = rv_name(rv);
  g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "%s: %s failed: %s%s0x%08lX%s", p->what, call,
              name ? name : "", name ? " (" : "", (unsigned long)rv, name ? ")" : "");
}

/* The login state of a token is the whole process's, shared by every session: a signer
 * logging out would log out every other signer of the same token. So signers count their
 * logins here, per module and slot, and the last one to go logs out. */
static GMutex logins_lock;
static GHashTable *logins; /* "module\nslot" -> count of signers relying on the login */

/* C_Login as the user; "already logged in" (by another signer) is success too. */
static CK_RV login(p11_t *p, const char *module, CK_SLOT_ID slot, const char *pin) {
  g_mutex_lock(&logins_lock);
  CK_RV rv = p->module->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
  if (rv == CKR_USER_ALREADY_LOGGED_IN)
    rv = CKR_OK;
  if (rv == CKR_OK) {
    p->login_key = g_strdup_printf("%s\n%lu", module, (unsigned long)slot);
    if (logins == NULL)
      logins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(logins, p->login_key));
    g_hash_table_replace(logins, g_strdup(p->login_key), GUINT_TO_POINTER(n + 1));
  }
  g_mutex_unlock(&logins_lock);
  return rv;
}

/* C_Logout if p is the last signer relying on its token's login. */
static void logout(p11_t *p) {
  g_mutex_lock(&logins_lock);
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(logins, p->login_key));
  if (n > 1) {
    g_hash_table_replace(logins, g_strdup(p->login_key), GUINT_TO_POINTER(n - 1));
  } else {
    p->module->C_Logout(p->session);
    g_hash_table_remove(logins, p->login_key);
  }
  if (g_hash_table_size(logins) == 0)
    g_clear_pointer(&logins, g_hash_table_unref);
  g_mutex_unlock(&logins_lock);
}

static void p11_free(gpointer data) {
  p11_t *p = data;
  if (p == NULL)
    return;
  if (p->login_key)
    logout(p);
  g_free(p->login_key);
  if (p->have_session)
    p->module->C_CloseSession(p->session);
  if (p->initialized)
    p11_kit_module_finalize(p->module);
  if (p->module)
    p11_kit_module_release(p->module);
  g_mutex_clear(&p->lock);
  g_free(p->what);
  g_free(p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(p11_t, p11_free)

/* The PIN: the first line of pin_file (mode 0600 or stricter), or $pin_env. Cleanse and free
 * it with free_pin. */
static char *read_pin(const char *pin_file, const char *pin_env, GError **error) {
  if (pin_file == NULL) {
    const char *v = pin_env ? g_getenv(pin_env) : NULL;
    if (v == NULL) {
      g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                  pin_env ? "no PIN: the environment variable %s is not set"
                          : "no PIN: neither a PIN file nor an environment variable given%s",
                  pin_env ? pin_env : "");
      return NULL;
    }
    return g_strdup(v);
  }
  GBytes *data = cs_file_read_secret(pin_file, MAX_PIN_FILE, error);
  if (data == NULL)
    return NULL;
  gsize len = 0;
  char *text = g_bytes_unref_to_data(data, &len);
  gsize line = 0;
  while (line < len && text[line] != '\n' && text[line] != '\r')
    line++;
  char *pin = g_strndup(text, line);
  OPENSSL_cleanse(text, len);
  g_free(text);
  return pin;
}

static void free_pin(char *pin) {
  if (pin) {
    OPENSSL_cleanse(pin, strlen(pin));
    g_free(pin);
  }
}

/* The first object of class with CKA_LABEL label; FALSE if none (or a call failed: *rv). */
static gboolean find_object(p11_t *p, CK_OBJECT_CLASS klass, const char *label,
                            CK_OBJECT_HANDLE *out, CK_RV *rv_out) {
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_LABEL, (void *)label, strlen(label)},
  };
  CK_ULONG n = 0;
  CK_RV rv = p->module->C_FindObjectsInit(p->session, tmpl, G_N_ELEMENTS(tmpl));
  if (rv == CKR_OK) {
    rv = p->module->C_FindObjects(p->session, out, 1, &n);
    CK_RV fin = p->module->C_FindObjectsFinal(p->session);
    if (rv == CKR_OK)
      rv = fin;
  }
  *rv_out = rv;
  return rv == CKR_OK && n == 1;
}

/* An attribute's value, or NULL (absent, or a call failed). */
static GBytes *get_attribute(p11_t *p, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a = {type, NULL, 0};
  if (p->module->C_GetAttributeValue(p->session, obj, &a, 1) != CKR_OK ||
      a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 64 * 1024)
    return NULL;
  guint8 *buf = g_malloc(a.ulValueLen ? a.ulValueLen : 1);
  a.pValue = buf;
  if (p->module->C_GetAttributeValue(p->session, obj, &a, 1) != CKR_OK) {
    g_free(buf);
    return NULL;
  }
  return g_bytes_new_take(buf, a.ulValueLen);
}

static gboolean bytes_equal(GBytes *b, const guint8 *data, gsize len) {
  gsize n = 0;
  const guint8 *d = b ? g_bytes_get_data(b, &n) : NULL;
  return d && n == len && memcmp(d, data, len) == 0;
}

/* The public point of CKA_EC_POINT: a DER OCTET STRING around it, or (some tokens) the bare
 * point; want is its length. */
static GBytes *ec_point(GBytes *attr, gsize want) {
  gsize len = 0;
  const unsigned char *d = g_bytes_get_data(attr, &len);
  const unsigned char *q = d;
  ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &q, (long)len);
  GBytes *out = NULL;
  if (os && q == d + len && (gsize)ASN1_STRING_length(os) == want)
    out = g_bytes_new(ASN1_STRING_get0_data(os), want);
  else if (len == want)
    out = g_bytes_ref(attr);
  ASN1_OCTET_STRING_free(os);
  ERR_clear_error();
  return out;
}

/* The public key object's key as an EVP_PKEY, or NULL. */
static EVP_PKEY *public_key(p11_t *p, CK_OBJECT_HANDLE obj) {
  g_autoptr(GBytes) attr = get_attribute(p, obj, CKA_EC_POINT);
  if (attr == NULL)
    return NULL;
  g_autoptr(GBytes) point = ec_point(attr, p->alg == CS_ALG_EDDSA ? ED25519_POINT : P256_POINT);
  if (point == NULL)
    return NULL;
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(point, &len);
  EVP_PKEY *pkey = NULL;
  if (p->alg == CS_ALG_EDDSA) {
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, d, len);
  } else {
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)d, len),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      EVP_PKEY_free(pkey);
      pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
  }
  ERR_clear_error();
  return pkey;
}

static void sha256_kid(const unsigned char *der, gsize len, guint8 kid[CS_KID_LENGTH]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(der, len, md, &md_len, EVP_sha256(), NULL);
  memcpy(kid, md, CS_KID_LENGTH);
}

/* kid from the certificate labelled key_label, else from the public key so labelled. */
static gboolean compute_kid(p11_t *p, const char *key_label, guint8 kid[CS_KID_LENGTH],
                            GError **error) {
  CK_OBJECT_HANDLE obj;
  CK_RV rv;
  EVP_PKEY *pub = NULL;
  if (find_object(p, CKO_PUBLIC_KEY, key_label, &obj, &rv))
    pub = public_key(p, obj);
  X509 *cert = NULL;
  if (find_object(p, CKO_CERTIFICATE, key_label, &obj, &rv)) {
    g_autoptr(GBytes) value = get_attribute(p, obj, CKA_VALUE);
    gsize len = 0;
    const unsigned char *d = value ? g_bytes_get_data(value, &len) : NULL;
    const unsigned char *q = d;
    cert = d ? d2i_X509(NULL, &q, (long)len) : NULL;
    if (cert == NULL || q != d + len) {
      X509_free(cert);
      EVP_PKEY_free(pub);
      ERR_clear_error();
      g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                  "%s: the certificate object with that label is not a DER X.509 certificate",
                  p->what);
      return FALSE;
    }
    if (pub && EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1) {
      X509_free(cert);
      EVP_PKEY_free(pub);
      ERR_clear_error();
      g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                  "%s: the certificate with that label does not belong to the key", p->what);
      return FALSE;
    }
  }
  unsigned char *der = NULL;
  int len = cert ? i2d_X509(cert, &der) : pub ? i2d_PUBKEY(pub, &der) : 0;
  X509_free(cert);
  EVP_PKEY_free(pub);
  ERR_clear_error();
  if (len <= 0) {
    OPENSSL_free(der);
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                "%s: the token holds neither a certificate nor a usable public key with that "
                "label, which the key identifier is computed from", p->what);
    return FALSE;
  }
  sha256_kid(der, (gsize)len, kid);
  OPENSSL_free(der);
  return TRUE;
}

static GBytes *p11_sign(cs_signer_t *signer, const guint8 *data, gsize length, GError **error) {
  p11_t *p = cs_signer_backend_data(signer);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  CK_MECHANISM mech = {CKM_EDDSA, NULL, 0};
  const guint8 *in = data;
  gsize in_len = length;
  if (p->alg == CS_ALG_ES256) {
    if (EVP_Digest(data, length, digest, &digest_len, EVP_sha256(), NULL) != 1) {
      ERR_clear_error();
      g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "%s: SHA-256 failed", p->what);
      return NULL;
    }
    mech.mechanism = CKM_ECDSA;
    in = digest;
    in_len = digest_len;
  }
  guint8 sig[2 * RAW_SIG];
  CK_ULONG sig_len = sizeof sig;
  g_mutex_lock(&p->lock);
  const char *call = "C_SignInit";
  CK_RV rv = p->module->C_SignInit(p->session, &mech, p->key);
  if (rv == CKR_OK) {
    call = "C_Sign";
    rv = p->module->C_Sign(p->session, (CK_BYTE_PTR)in, in_len, sig, &sig_len);
  }
  g_mutex_unlock(&p->lock);
  if (rv != CKR_OK) {
    set_rv_error(error, p, call, rv);
    return NULL;
  }
  if (sig_len != RAW_SIG) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                "%s: the token returned a %lu-byte %s signature, not %d bytes", p->what,
                (unsigned long)sig_len, cs_alg_name(p->alg), RAW_SIG);
    return NULL;
  }
  return g_bytes_new(sig, sig_len);
}

/* The slot of the token labelled token_label; FALSE with error set if there is none. */
static gboolean find_token(p11_t *p, const char *token_label, CK_SLOT_ID *slot,
                           GError **error) {
  CK_ULONG n = 0;
  CK_RV rv = p->module->C_GetSlotList(CK_TRUE, NULL, &n);
  g_autofree CK_SLOT_ID *slots = g_new0(CK_SLOT_ID, n + 1);
  if (rv == CKR_OK)
    rv = p->module->C_GetSlotList(CK_TRUE, slots, &n);
  if (rv != CKR_OK) {
    set_rv_error(error, p, "C_GetSlotList", rv);
    return FALSE;
  }
  gsize want = strlen(token_label);
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO info;
    if (p->module->C_GetTokenInfo(slots[i], &info) != CKR_OK)
      continue;
    gsize len = p11_kit_space_strlen(info.label, sizeof info.label);
    if (len == want && memcmp(info.label, token_label, len) == 0) {
      *slot = slots[i];
      return TRUE;
    }
  }
  g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "%s: no token with that label is present "
              "(%lu token%s in the module)", p->what, (unsigned long)n, n == 1 ? "" : "s");
  return FALSE;
}

/* The private key labelled key_label and its algorithm. */
static gboolean find_key(p11_t *p, const char *key_label, GError **error) {
  CK_RV rv;
  if (!find_object(p, CKO_PRIVATE_KEY, key_label, &p->key, &rv)) {
    if (rv != CKR_OK)
      set_rv_error(error, p, "C_FindObjects", rv);
    else
      g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                  "%s: the token holds no private key with that label", p->what);
    return FALSE;
  }
  CK_KEY_TYPE type = 0;
  CK_ATTRIBUTE a = {CKA_KEY_TYPE, &type, sizeof type};
  rv = p->module->C_GetAttributeValue(p->session, p->key, &a, 1);
  if (rv != CKR_OK) {
    set_rv_error(error, p, "C_GetAttributeValue(CKA_KEY_TYPE)", rv);
    return FALSE;
  }
  g_autoptr(GBytes) params = get_attribute(p, p->key, CKA_EC_PARAMS);
  if (type == CKK_EC && bytes_equal(params, P256_PARAMS, sizeof P256_PARAMS)) {
    p->alg = CS_ALG_ES256;
    return TRUE;
  }
  if (type == CKK_EC_EDWARDS && (bytes_equal(params, ED25519_OID, sizeof ED25519_OID) ||
                                 bytes_equal(params, ED25519_NAME, sizeof ED25519_NAME))) {
    p->alg = CS_ALG_EDDSA;
    return TRUE;
  }
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
              "%s: the key is %s; signing keys in a token are P-256 (ES256) or Ed25519 (EdDSA)",
              p->what,
              type == CKK_EC ? "an EC key on another curve"
              : type == CKK_EC_EDWARDS ? "an Edwards key on another curve"
              : type == CKK_RSA ? "an RSA key" : "of another type");
  return FALSE;
}

cs_signer_t *cs_signer_load_pkcs11(const char *module, const char *token_label,
                                   const char *key_label, const char *pin_file,
                                   const char *pin_env, GError **error) {
  g_return_val_if_fail(module && token_label && key_label, NULL);
  g_autoptr(p11_t) p = g_new0(p11_t, 1);
  g_mutex_init(&p->lock);
  p->what = g_strdup_printf("PKCS#11 module %s, token \"%s\", key \"%s\"", module, token_label,
                            key_label);
  char *pin = read_pin(pin_file, pin_env, error);
  if (pin == NULL)
    return NULL;
  p->module = p11_kit_module_load(module, 0);
  if (p->module == NULL) {
    const char *msg = p11_kit_message();
    free_pin(pin);
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s: cannot load the module: %s", p->what,
                msg ? msg : "unknown error");
    return NULL;
  }
  CK_RV rv = p11_kit_module_initialize(p->module);
  if (rv != CKR_OK) {
    free_pin(pin);
    set_rv_error(error, p, "C_Initialize", rv);
    return NULL;
  }
  p->initialized = TRUE;
  CK_SLOT_ID slot = 0;
  if (!find_token(p, token_label, &slot, error)) {
    free_pin(pin);
    return NULL;
  }
  rv = p->module->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &p->session);
  if (rv != CKR_OK) {
    free_pin(pin);
    set_rv_error(error, p, "C_OpenSession", rv);
    return NULL;
  }
  p->have_session = TRUE;
  rv = login(p, module, slot, pin);
  free_pin(pin);
  if (rv != CKR_OK) {
    set_rv_error(error, p, "C_Login", rv);
    return NULL;
  }
  guint8 kid[CS_KID_LENGTH];
  if (!find_key(p, key_label, error) || !compute_kid(p, key_label, kid, error))
    return NULL;
  cs_alg_t alg = p->alg;
  return cs_signer_new_backend(alg, kid, p11_sign, g_steal_pointer(&p), p11_free);
}
