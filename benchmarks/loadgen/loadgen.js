#!/usr/bin/env node
// Independent gRPC load generator (@grpc/grpc-js) for dom_engine's throughput benchmark.
//
// Sends pre-serialized request messages (one base64 protobuf per line of --requests; none: the
// empty message, e.g. a grpc.health.v1 Check of the server) as unary calls to --method, keeping
// --concurrency calls in flight over --channels separate HTTP/2 connections, for --duration
// seconds after --warmup seconds whose calls are not counted. The client never parses the
// answers (bytes in, bytes out), so its own CPU cost stays small next to the server's.
//
// Prints one JSON object: calls, rate (calls/s), latency percentiles in ms, errors by status code.
//
//   node loadgen.js --target 127.0.0.1:50051 --method /grpc.health.v1.Health/Check
//   node loadgen.js --target ... --method /dom.v1.RoutingService/RouteOrder --requests orders.b64
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');

function parseArgs(argv) {
  const args = {
    target: '127.0.0.1:50051', method: '/grpc.health.v1.Health/Check', requests: null,
    concurrency: 32, channels: 4, duration: 10, warmup: 2, deadlineMs: 5000, metadata: [], tls: null,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    switch (key) {
      case 'target': args.target = value; break;
      case 'method': args.method = value; break;
      case 'requests': args.requests = value; break;
      case 'concurrency': args.concurrency = parseInt(value, 10); break;
      case 'channels': args.channels = parseInt(value, 10); break;
      case 'duration': args.duration = parseFloat(value); break;
      case 'warmup': args.warmup = parseFloat(value); break;
      case 'deadline-ms': args.deadlineMs = parseFloat(value); break;
      case 'metadata': args.metadata.push(value); break;   // key=value, repeatable
      case 'tls-ca': args.tls = value; break;
      default: throw new Error(`unknown option --${key}`);
    }
  }
  if (!(args.concurrency >= 1) || !(args.channels >= 1)) throw new Error('--concurrency and --channels must be >= 1');
  return args;
}

function loadRequests(path) {
  if (path === null) return [Buffer.alloc(0)];
  return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0)
    .map((l) => Buffer.from(l, 'base64'));
}

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx];
}

function main() {
  const args = parseArgs(process.argv);
  const requests = loadRequests(args.requests);
  const identity = (b) => b;
  const creds = args.tls ? grpc.credentials.createSsl(fs.readFileSync(args.tls)) : grpc.credentials.createInsecure();
  // A local subchannel pool per client: one TCP connection each (grpc-js otherwise shares one).
  const clients = Array.from({ length: args.channels }, () => new grpc.Client(args.target, creds,
    { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
  const metadata = new grpc.Metadata();
  for (const kv of args.metadata) {
    const at = kv.indexOf('=');
    metadata.add(kv.slice(0, at), kv.slice(at + 1));
  }

  const unique = args.requests !== null;   // each order once: a repeated order id is an idempotent replay
  let next = 0;
  let exhausted = false;
  const latencies = [];
  const errors = {};
  let counting = false;
  let running = true;
  let countedStart = 0;
  let countedEnd = 0;

  function fire(worker) {
    if (!running) return;
    if (unique && next >= requests.length) { exhausted = true; return; }
    const body = requests[next % requests.length];
    next += 1;
    const client = clients[worker % clients.length];
    const started = process.hrtime.bigint();
    const counted = counting;
    client.makeUnaryRequest(args.method, identity, identity, body, metadata,
      { deadline: Date.now() + args.deadlineMs }, (err) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (counted && counting) {
          if (err) errors[err.code] = (errors[err.code] || 0) + 1;
          else latencies.push(ms);
        }
        fire(worker);
      });
  }

  for (let w = 0; w < args.concurrency; w += 1) fire(w);
  setTimeout(() => {
    counting = true;
    countedStart = process.hrtime.bigint();
    setTimeout(() => {
      countedEnd = process.hrtime.bigint();
      counting = false;
      running = false;
      const seconds = Number(countedEnd - countedStart) / 1e9;
      latencies.sort((a, b) => a - b);
      const failed = Object.values(errors).reduce((a, b) => a + b, 0);
      process.stdout.write(JSON.stringify({
        method: args.method, concurrency: args.concurrency, channels: args.channels,
        seconds, calls: latencies.length, failed, errors, exhausted,
        rate: latencies.length / seconds,
        p50_ms: percentile(latencies, 0.5), p90_ms: percentile(latencies, 0.9),
        p99_ms: percentile(latencies, 0.99), max_ms: latencies.length ? latencies[latencies.length - 1] : null,
      }) + '\n');
      clients.forEach((c) => c.close());
      setTimeout(() => process.exit(0), 100);
    }, args.duration * 1000);
  }, args.warmup * 1000);
}

main();
