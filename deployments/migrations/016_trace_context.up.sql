-- The trace a task was enqueued in, when tracing is on: the fields the tracer injected (W3C
-- traceparent and tracestate with OpenTelemetry) under "parent" (the attempts continue that
-- trace) or "link" (they start their own, linked to it: batches and schedule fires). NULL when
-- tracing is off, so untraced tasks store nothing. A nullable column without a default: adding it
-- changes only the catalog, not the table's rows.
ALTER TABLE tasks ADD COLUMN trace_context jsonb;
