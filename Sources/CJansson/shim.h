#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H
#include <jansson.h>
/* jansson imports directly; json_pack/json_unpack are variadic and are not used. */
#endif
