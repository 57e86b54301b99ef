/* What other signer backends (signer-pkcs11.c) need from signer.c; not a public API. */
#pragma once

#include <glib.h>

#include "signer.h"

G_BEGIN_DECLS

/* Signs data in COSE's form (as cs_signer_sign). */
typedef GBytes *(*cs_signer_sign_fn)(cs_signer_t *signer, const guint8 *data, gsize length,
                                     GError **error);

/* A signer whose signatures come from sign; cs_signer_free calls free_fn(data). */
cs_signer_t *cs_signer_new_backend(cs_alg_t alg, const guint8 kid[CS_KID_LENGTH],
                                   cs_signer_sign_fn sign, gpointer data,
                                   GDestroyNotify free_fn);
gpointer cs_signer_backend_data(const cs_signer_t *signer);

G_END_DECLS
