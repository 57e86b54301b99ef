/* QR code symbols (libqrencode). Stub: being written. */
#pragma once

#include <glib.h>
