// Half-open HTTP clients for tests/cli/serve_abuse.sh: opens N connections
// from each given local (loopback) address to 127.0.0.1:PORT, sends part of a
// request and nothing more, and holds them. Half send a request line and one
// header (no blank line), half send complete headers that promise a body and
// then 10 bytes of it.
//
//   node half_open.js PORT ADDRS(comma-separated) N_PER_ADDR HOLD_S
//
// Prints "open K" once every connection attempt has settled and the server
// has closed none for a second (K = how many it holds: a slow server, under
// a sanitizer, accepts from its backlog and closes the ones over a limit
// only gradually), then HOLD_S seconds after that "still_open S
// closed_by_server C" and exits (closing what is left).
"use strict";
const net = require("net");
const [port, addrs, perAddr, holdS] = [Number(process.argv[2]), process.argv[3].split(","),
                                       Number(process.argv[4]), Number(process.argv[5])];
const socks = [];
let settled = 0, total = 0, closedByServer = 0, openedAt = 0, lastClose = Date.now();
const partialHeaders = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n";
const partialBody = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                    "Content-Length: 1000\r\n\r\n{\"model\":";

function settle() {
  if (++settled === total)
    quiet(Date.now());
}

// waits (at most 15 s) until no connection has closed for a second
function quiet(since) {
  if (Date.now() - lastClose < 1000 && Date.now() - since < 15000) {
    setTimeout(() => quiet(since), 100);
    return;
  }
  openedAt = Date.now();
  const open = socks.filter(s => s.ok && !s.closed).length;
  console.log("open " + open);
  setTimeout(finish, holdS * 1000);
}

function finish() {
  let still = 0;
  for (const s of socks) {
    if (s.ok && !s.closed) still++;
    s.sock.destroy();
  }
  console.log("still_open " + still + " closed_by_server " + closedByServer);
  process.exit(0);
}

for (const a of addrs) {
  for (let i = 0; i < perAddr; i++) {
    total++;
    const s = {ok: false, closed: false, done: false};
    s.sock = net.connect({port, host: "127.0.0.1", localAddress: a});
    const once = () => { if (!s.done) { s.done = true; settle(); } };
    s.sock.on("connect", () => {
      s.sock.write(i % 2 ? partialBody : partialHeaders, () => {
        // an accepted connection stays open for at least 300 ms, or the
        // server dropped it at once (over a connection limit)
        setTimeout(() => { if (!s.closed) s.ok = true; once(); }, 300);
      });
    });
    s.sock.on("data", () => {});
    s.sock.on("error", () => {});
    s.sock.on("close", () => {
      lastClose = Date.now();
      if (s.ok && !s.closed && openedAt) closedByServer++;
      s.closed = true;
      once();
    });
    socks.push(s);
  }
}
