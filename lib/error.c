#include "error.h"

G_DEFINE_QUARK(cardspool-error-quark, cs_error)
