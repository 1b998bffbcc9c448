#ifndef TASKFLOW_CNATS_SHIM_H
#define TASKFLOW_CNATS_SHIM_H
// libnats.pc only adds /usr/include, so the header is reached through its folder.
#include <nats/nats.h>
#endif
