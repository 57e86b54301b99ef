#include "qr.h"
