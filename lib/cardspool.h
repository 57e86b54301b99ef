/* libcardspool: the public API in one include. */
#pragma once

#include "catalogue.h"
#include "date.h"
#include "error.h"
#include "idnumber.h"
#include "io.h"
#include "photo.h"
#include "record.h"
#include "report.h"
#include "validate.h"
