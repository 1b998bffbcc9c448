#ifndef TASKFLOW_CLIBPQ_SHIM_H
#define TASKFLOW_CLIBPQ_SHIM_H
// libpq.pc adds /usr/include/postgresql to the search path.
#include <libpq-fe.h>

// PG_DIAG_SQLSTATE is a character macro Swift does not import.
static inline const char *taskflow_pq_sqlstate(const PGresult *res) {
    return PQresultErrorField(res, PG_DIAG_SQLSTATE);
}
#endif
