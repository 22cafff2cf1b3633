/*
 * dms.h: the common library in one include. Included last in every .c file,
 * after the system headers, because it ends with banned.h.
 */
#ifndef DMS_H
#define DMS_H

#include "exitcode.h"
#include "log.h"
#include "sig.h"
#include "mp.h"
#include "io.h"
#include "types.h"
#include "stream.h"
#include "util.h"

#include "banned.h"
#endif
