#!/usr/bin/env python3
"""End-to-end check of TaskFlow's traces, as an OpenTelemetry collector would receive them.

Starts a small OTLP/HTTP receiver (spans decoded with opentelemetry-proto from PyPI), then an `api`
and a `worker` of their own (own PostgreSQL schema, stream and subjects, so a running stack is not
disturbed) exporting to it. One POST with a `traceparent` header creates a task of the built-in
`fail` type that fails once and then succeeds. The check: one trace holds the API's request span
(a child of the caller's span), the enqueue span (its child) and both attempts' `task fail` spans
(children of the enqueue span) with their attributes, outcomes and the first one's error status;
the worker's log lines about the attempt carry the trace id. Then a `webhook` task aimed at the
receiver: its HTTP call is a client span inside its attempt and sends that span's traceparent.

Usage: trace_test.py --bin DIR --database-url URL --nats-url URL [--port N]
       trace_test.py --serve PORT   (only the receiver, counting spans until SIGTERM: for benchmarks)
"""
import argparse
import gzip
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


class Collector:
    """Every span received, with its resource's service.name."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spans = []
        self.requests = 0
        self.hooks = []

    def add(self, request):
        with self.lock:
            self.requests += 1
            for resource_spans in request.resource_spans:
                service = next(
                    (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), "")
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append((service, span))

    def trace(self, trace_id):
        with self.lock:
            return [(service, span) for service, span in self.spans if span.trace_id.hex() == trace_id]


def receiver(collector, port=0):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/hook":
                # The webhook task's target: what trace context did the handler's HTTP call carry?
                with collector.lock:
                    collector.hooks.append(self.headers.get("traceparent"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            collector.add(request)
            answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def attributes(span):
    values = {}
    for attribute in span.attributes:
        value = attribute.value
        kind = value.WhichOneof("value")
        values[attribute.key] = getattr(value, kind) if kind else None
    return values


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def wait_until(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"trace test: {what} within {timeout} s")


def serve(port):
    """Receives spans and prints how many arrived when stopped."""
    collector = Collector()
    server = receiver(collector, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    print(f"received {len(collector.spans)} spans in {collector.requests} requests", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", help="folder holding the api and worker executables")
    parser.add_argument("--database-url")
    parser.add_argument("--nats-url")
    parser.add_argument("--port", type=int, default=18090, help="the API's port")
    parser.add_argument("--serve", type=int, help="only receive spans on this port until SIGTERM")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if not (args.bin and args.database_url and args.nats_url):
        parser.error("--bin, --database-url and --nats-url are required")

    collector = Collector()
    server = receiver(collector)
    name = "trace_e2e_" + secrets.token_hex(3)
    common = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": args.database_url,
        "DATABASE_SCHEMA": name,
        "NATS_URL": args.nats_url,
        "NATS_STREAM_NAME": name.upper(),
        "NATS_SUBJECT_PREFIX": name,
        "NATS_CONSUMER_NAME": name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "LOG_FORMAT": "json",
    }
    logs = tempfile.mkdtemp(prefix="taskflow-trace-")
    processes = []
    try:
        api_log = open(os.path.join(logs, "api.log"), "w")
        worker_log_path = os.path.join(logs, "worker.log")
        worker_log = open(worker_log_path, "w")
        processes.append(subprocess.Popen(
            [os.path.join(args.bin, "api")], stdout=api_log, stderr=subprocess.STDOUT,
            env={**common, "OTEL_SERVICE_NAME": "taskflow-api", "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(args.port)}))
        processes.append(subprocess.Popen(
            [os.path.join(args.bin, "worker")], stdout=worker_log, stderr=subprocess.STDOUT,
            env={**common, "OTEL_SERVICE_NAME": "taskflow-worker", "WORKER_ID": name, "LOG_LEVEL": "debug",
                 "WORKER_BACKOFF_BASE": "100ms", "WORKER_BACKOFF_MAX": "200ms"}))
        base = f"http://127.0.0.1:{args.port}"

        def healthy():
            try:
                return http("GET", base + "/api/v1/ready")[0] == 200
            except Exception:
                return False
        wait_until("the API was not ready", healthy, 60)

        trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
        status, task = http("POST", base + "/api/v1/tasks", {"type": "fail", "payload": {"times": 1}},
                            {"traceparent": f"00-{trace_id}-{parent_id}-01"})
        assert status == 201, (status, task)
        task_id = task["id"]
        wait_until(f"task {task_id} did not complete",
                   lambda: http("GET", f"{base}/api/v1/tasks/{task_id}")[1]["status"] == "completed", 30)

        def whole_trace():
            spans = collector.trace(trace_id)
            attempts = [s for _, s in spans if s.name == "task fail"]
            return spans if len(attempts) >= 2 and any(s.name == "enqueue" for _, s in spans) else None
        spans = wait_until("the trace did not arrive whole (request, enqueue, two attempts)", whole_trace, 20)

        by_name = {}
        for service, span in spans:
            by_name.setdefault(span.name, []).append((service, span))
        problems = []

        def expect(condition, message):
            if not condition:
                problems.append(message)

        requests = [(service, span) for service, span in spans if span.kind == trace_pb2.Span.SPAN_KIND_SERVER]
        expect(len(requests) == 1, f"one request span, found {len(requests)}")
        request = requests[0][1] if requests else None
        if request:
            expect(requests[0][0] == "taskflow-api", f"the request span comes from {requests[0][0]}")
            expect(request.parent_span_id.hex() == parent_id, "the request span is a child of the caller's traceparent")
        enqueue_service, enqueue = by_name["enqueue"][0]
        expect(enqueue_service == "taskflow-api", f"the enqueue span comes from {enqueue_service}")
        expect(enqueue.kind == trace_pb2.Span.SPAN_KIND_PRODUCER, "the enqueue span is a producer")
        if request:
            expect(enqueue.parent_span_id == request.span_id, "the enqueue span is a child of the request span")
        expect(attributes(enqueue).get("taskflow.task.id") == task_id, "the enqueue span names the task")

        attempts = sorted(by_name["task fail"], key=lambda item: attributes(item[1]).get("taskflow.task.attempt"))
        expect(len(attempts) == 2, f"two attempt spans, found {len(attempts)}")
        for number, (service, span) in enumerate(attempts, start=1):
            values = attributes(span)
            expect(service == "taskflow-worker", f"attempt {number} comes from {service}")
            expect(span.kind == trace_pb2.Span.SPAN_KIND_CONSUMER, f"attempt {number} is a consumer span")
            expect(span.parent_span_id == enqueue.span_id, f"attempt {number} is a child of the enqueue span")
            expect(values.get("taskflow.task.id") == task_id, f"attempt {number} names the task")
            expect(values.get("taskflow.task.attempt") == number, f"attempt {number} carries its number: {values}")
            expect(values.get("taskflow.task.type") == "fail", f"attempt {number} carries the type")
            expect(values.get("taskflow.worker.id") == name, f"attempt {number} carries the worker id")
            expect("taskflow.task.queue_wait_ms" in values, f"attempt {number} carries its queue wait")
        if len(attempts) == 2:
            first, second = attempts[0][1], attempts[1][1]
            expect(attributes(first).get("taskflow.task.outcome") == "retry", "the first attempt's outcome is retry")
            expect(first.status.code == trace_pb2.Status.STATUS_CODE_ERROR, "the first attempt has an error status")
            expect(any(event.name == "exception" for event in first.events), "the first attempt records its error")
            expect(attributes(second).get("taskflow.task.outcome") == "completed", "the second attempt completed")
            expect(second.status.code != trace_pb2.Status.STATUS_CODE_ERROR, "the second attempt has no error status")

        # A handler's own HTTP call continues the trace: the worker's AsyncHTTPClient makes a client
        # span inside the attempt's span and sends its traceparent to the webhook's target.
        hook_trace = secrets.token_hex(16)
        status, hook_task = http(
            "POST", base + "/api/v1/tasks",
            {"type": "webhook", "payload": {"url": f"http://127.0.0.1:{server.server_port}/hook", "body": {"n": 1}}},
            {"traceparent": f"00-{hook_trace}-{secrets.token_hex(8)}-01"})
        assert status == 201, (status, hook_task)
        wait_until(f"webhook task {hook_task['id']} did not complete",
                   lambda: http("GET", f"{base}/api/v1/tasks/{hook_task['id']}")[1]["status"] == "completed", 30)

        def hook_spans():
            found = collector.trace(hook_trace)
            names = [span.name for _, span in found]
            return found if "task webhook" in names and any(s.kind == trace_pb2.Span.SPAN_KIND_CLIENT for _, s in found) else None
        hook_trace_spans = wait_until("the webhook's trace did not arrive with its client span", hook_spans, 20)
        attempt = next(span for _, span in hook_trace_spans if span.name == "task webhook")
        client = next(span for _, span in hook_trace_spans if span.kind == trace_pb2.Span.SPAN_KIND_CLIENT)
        expect(client.parent_span_id == attempt.span_id, "the handler's HTTP call is a child of its attempt")
        with collector.lock:
            hooks = list(collector.hooks)
        expect(f"00-{hook_trace}-{client.span_id.hex()}-01" in hooks,
               f"the webhook's request carried the client span's traceparent: {hooks}")

        worker_log.flush()
        traced_lines = []
        with open(worker_log_path) as lines:
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("task.id") == task_id:
                    traced_lines.append(entry.get("trace_id"))
        expect(traced_lines and all(t == trace_id for t in traced_lines),
               f"the worker's lines about the task carry the trace id: {traced_lines}")

        if problems:
            for service, span in spans:
                print(f"  {service:16} {span.name:14} span={span.span_id.hex()} parent={span.parent_span_id.hex()} "
                      f"{attributes(span)}", file=sys.stderr)
            raise SystemExit("trace test failed:\n  " + "\n  ".join(problems))
        print(f"   ok: trace {trace_id}: request -> enqueue -> 2 attempts (retry, completed), "
              f"{len(spans)} spans from api and worker, {len(traced_lines)} worker log lines with the trace id; "
              f"a webhook task's HTTP call is a client span inside its attempt and sent its traceparent")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        server.shutdown()


if __name__ == "__main__":
    main()
