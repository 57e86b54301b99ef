#include "emulator-private.h"
