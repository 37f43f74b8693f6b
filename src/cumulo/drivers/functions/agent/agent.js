// Cumulo function agent (Node.js): runs inside the function container.
// Loads the handler `file.export` from /var/task once, then serves invocations on a Unix socket:
// each frame is a 4-byte big-endian length and a JSON document (same protocol as agent.py).
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const { pathToFileURL } = require('url');

const SOCKET = process.env.CUMULO_SOCKET || '/run/cumulo/agent.sock';
const HANDLER = process.env.CUMULO_HANDLER || '';
const MAX_LOGS = 64 * 1024;
const MAX_RESULT = 6 * 1024 * 1024;

function describe(err, type) {
  const e = err instanceof Error ? err : new Error(String(err));
  return { type: type || e.name || 'Error', message: e.message,
           stack: String(e.stack || '').split('\n').slice(0, 20) };
}

async function load() {
  const dot = HANDLER.lastIndexOf('.');
  if (dot <= 0 || dot === HANDLER.length - 1) throw new Error(`handler must look like 'file.export', got '${HANDLER}'`);
  const base = path.resolve(process.cwd(), HANDLER.slice(0, dot));
  const name = HANDLER.slice(dot + 1);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no file ${HANDLER.slice(0, dot)}.js, .mjs or .cjs in the function code`);
  let mod;
  if (file.endsWith('.mjs')) mod = await import(pathToFileURL(file).href);
  else {
    try { mod = require(file); } catch (err) {
      if (err && err.code === 'ERR_REQUIRE_ESM') mod = await import(pathToFileURL(file).href);
      else throw err;
    }
  }
  const fn = mod[name] !== undefined ? mod[name] : (mod.default && mod.default[name]);
  if (typeof fn !== 'function') throw new Error(`${path.basename(file)} does not export a function '${name}'`);
  return fn;
}

function capture() {
  const parts = []; let size = 0;
  const orig = { out: process.stdout.write, err: process.stderr.write };
  const write = (chunk, enc, cb) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (size < MAX_LOGS) parts.push(text.slice(0, MAX_LOGS - size));
    size += text.length;
    if (typeof enc === 'function') enc(); else if (typeof cb === 'function') cb();
    return true;
  };
  process.stdout.write = write; process.stderr.write = write;
  return () => {
    process.stdout.write = orig.out; process.stderr.write = orig.err;
    return parts.join('') + (size > MAX_LOGS ? '\n[logs truncated]\n' : '');
  };
}

function context(data) {
  const deadline = Date.now() + (data.timeout_ms || 0);
  return { functionName: data.function_name || '', functionVersion: String(data.function_version || ''),
           invocationId: data.invocation_id || '', awsRequestId: data.invocation_id || '',
           memoryLimitInMB: data.memory_limit_in_mb || 0,
           getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
}

async function invoke(state, request) {
  const stop = capture();
  let answer;
  try {
    if (state.initError) answer = { ok: false, error: state.initError };
    else {
      const result = await state.handler(request.event, context(request.context || {}));
      const encoded = JSON.stringify(result === undefined ? null : result);
      if (encoded === undefined) answer = { ok: true, result_json: 'null' };
      else if (encoded.length > MAX_RESULT) {
        answer = { ok: false, error: { type: 'Runtime.ResultTooLarge', message: 'the result is larger than 6 MiB', stack: [] } };
      } else answer = { ok: true, result_json: encoded };
    }
  } catch (err) {
    answer = { ok: false, error: describe(err) };
  }
  answer.logs = stop();
  return answer;
}

function serve(state) {
  try { fs.unlinkSync(SOCKET); } catch (_) { /* absent */ }
  const server = net.createServer((conn) => {
    let buffer = Buffer.alloc(0);
    let busy = Promise.resolve();
    conn.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4) {
        const size = buffer.readUInt32BE(0);
        if (buffer.length < 4 + size) break;
        const body = buffer.subarray(4, 4 + size).toString('utf8');
        buffer = buffer.subarray(4 + size);
        busy = busy.then(async () => {
          const data = Buffer.from(JSON.stringify(await invoke(state, JSON.parse(body))));
          const header = Buffer.alloc(4); header.writeUInt32BE(data.length, 0);
          conn.write(Buffer.concat([header, data]));
        });
      }
    });
    conn.on('error', () => {});
  });
  server.listen(SOCKET + '.tmp', () => fs.renameSync(SOCKET + '.tmp', SOCKET));
}

(async () => {
  const state = { handler: null, initError: null };
  const stop = capture();
  try { state.handler = await load(); } catch (err) { state.initError = describe(err, 'Runtime.HandlerNotLoaded'); }
  const initLogs = stop();
  if (state.initError && initLogs) state.initError.message += '\n' + initLogs.slice(-2000);
  serve(state);
})();
process.on('unhandledRejection', () => {});
