// A tiny HTTP server for the `frugal pull` tests: serves files from a
// directory on 127.0.0.1 with Range support, and misbehaves on request so
// that every failure path of a download can be exercised without a network.
//
//   node http_server.js ROOT PORT_FILE LOG_FILE
//
// The file served is ROOT/<last path segment>, whatever the directories in
// front of it (so /owner/repo/resolve/main/x.gguf works like /x.gguf).
// Query parameters choose the behaviour:
//   status=N      answer N with a short text body (also: a /status-N/ path
//                 segment, for hf: specs that cannot carry a query)
//   hferror=CODE  with status: send X-Error-Code: CODE (as Hugging Face does)
//   redirect=N    302 to the same URL with redirect=N-1 (relative Location)
//   linked=1      on redirects, send X-Linked-Size / X-Linked-Etag (the real
//                 size and sha256, as Hugging Face does for LFS files)
//   norange=1     ignore Range: always 200 with the whole file
//   badrange=1    answer a Range request with 206 starting at byte 0
//   cut=N         close the connection once byte N of the file was sent
//   stall=N       stop sending at byte N but keep the connection open
//   corrupt=1     flip one byte in the middle (same size, wrong sha256)
//   truncate=N    pretend the file is only its first N bytes
//   html=1        serve an HTML page instead of the file
//   nolength=1    no Content-Length (chunked)
// Every request is appended to LOG_FILE as one JSON line:
//   {"path", "query", "range", "auth", "status"}
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [root, portFile, logFile] = process.argv.slice(2);
if (!root || !portFile || !logFile) {
  console.error('usage: node http_server.js ROOT PORT_FILE LOG_FILE');
  process.exit(2);
}

function log(req, url, status) {
  const rec = {
    path: url.pathname,
    query: url.search,
    range: req.headers.range || null,
    auth: req.headers.authorization || null,
    status,
  };
  fs.appendFileSync(logFile, JSON.stringify(rec) + '\n');
}

function parseRange(header, size) {
  // Only the single-range forms a downloader sends: "bytes=S-" / "bytes=S-E".
  const m = /^bytes=(\d+)-(\d*)$/.exec(header || '');
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const q = url.searchParams;
  const num = (k) => (q.has(k) ? Number(q.get(k)) : null);

  const inPath = /\/status-(\d{3})\//.exec(url.pathname);
  if (q.has('status') || inPath) {
    const code = inPath ? Number(inPath[1]) : num('status');
    log(req, url, code);
    const headers = { 'Content-Type': 'text/plain' };
    if (q.has('hferror')) headers['X-Error-Code'] = q.get('hferror');
    res.writeHead(code, headers);
    res.end(`error ${code}: this is what the test asked for\n`);
    return;
  }
  const file = path.join(root, path.basename(url.pathname));
  let body;
  try {
    body = fs.readFileSync(file);
  } catch (e) {
    log(req, url, 404);
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('no such file\n');
    return;
  }
  if (num('redirect') > 0) {
    q.set('redirect', String(num('redirect') - 1));
    const headers = { Location: `${url.pathname}?${q.toString()}` };
    if (q.get('linked') === '1') {
      headers['X-Linked-Size'] = String(body.length);
      headers['X-Linked-Etag'] =
        '"' + crypto.createHash('sha256').update(body).digest('hex') + '"';
    }
    log(req, url, 302);
    res.writeHead(302, headers);
    res.end();
    return;
  }
  if (q.get('html') === '1') body = Buffer.from('<!DOCTYPE html><html><body>Sign in</body></html>\n');
  if (q.has('truncate')) body = body.subarray(0, num('truncate'));
  if (q.get('corrupt') === '1') {
    body = Buffer.from(body);
    body[body.length >> 1] ^= 0xff;
  }
  const size = body.length;

  let status = 200;
  let start = 0;
  let end = size - 1;
  const headers = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
  const range = q.get('norange') === '1' ? null : parseRange(req.headers.range, size);
  if (range) {
    if (range.start >= size) {
      log(req, url, 416);
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      res.end();
      return;
    }
    status = 206;
    start = q.get('badrange') === '1' ? 0 : range.start;
    end = range.end;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  if (q.get('nolength') !== '1') headers['Content-Length'] = String(end - start + 1);
  log(req, url, status);
  res.writeHead(status, headers);

  const cut = num('cut');
  const stall = num('stall');
  const stop = cut !== null ? cut : stall;
  if (stop !== null && start < stop) {
    res.write(body.subarray(start, Math.min(stop, end + 1)), () => {
      // cut: drop the connection; stall: send nothing more, keep it open.
      if (cut !== null) res.socket.destroy();
    });
    return;
  }
  res.end(body.subarray(start, end + 1));
});

server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => process.exit(0));
