/* libcardspool: the public API in one include. */
#pragma once

#include "catalogue.h"
#include "date.h"
#include "error.h"
#include "fonts.h"
#include "idnumber.h"
#include "io.h"
#include "layout.h"
#include "photo.h"
#include "qr.h"
#include "record.h"
#include "render.h"
#include "report.h"
#include "validate.h"
