// CometD's own Node server (cometd-nodejs-server 1.2.1) for the gwsnb client tests: an independent peer.
// usage: node cometd_server.js <port> [timeout_ms=20000]
// The Bayeux endpoint answers on any path (the tests use /api/v2/notifications). Control endpoints (plain
// HTTP, same port): POST /publish [{"channel": "...", "data": {...}}, ...] publishes them in order through a
// server channel and answers {"ok": true}; GET /subscribers answers {"subscribers": n} for /v2/me/outbound;
// GET /cookies answers {"cookies": [names]} of the last Bayeux request. Prints "READY <port>" once listening.
'use strict';
const http = require('http');
const cometd = require('cometd-nodejs-server');

const port = parseInt(process.argv[2] || '0', 10);
const timeout = parseInt(process.argv[3] || '20000', 10);

const server = cometd.createCometDServer({ timeout: timeout });
let lastCookies = [];

function publishAll(messages) {
  return messages.reduce((chain, m) => chain.then(() => new Promise((resolve, reject) => {
    server.createServerChannel(m.channel).publish(null, m.data, (failure) => failure ? reject(failure) : resolve());
  })), Promise.resolve());
}

const httpServer = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      let msg;
      try { msg = JSON.parse(body); } catch (e) { res.writeHead(400); res.end('bad json'); return; }
      publishAll(Array.isArray(msg) ? msg : [msg]).then(
        () => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"ok":true}'); },
        (err) => { res.writeHead(500); res.end(String(err && err.message)); });
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/subscribers') {
    const channel = server.getServerChannel('/v2/me/outbound');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ subscribers: channel ? channel.subscribers.length : 0 }));
    return;
  }
  if (req.method === 'GET' && req.url === '/cookies') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ cookies: lastCookies }));
    return;
  }
  lastCookies = (req.headers.cookie || '').split(';').map((c) => c.split('=')[0].trim()).filter((c) => c);
  server.handle(req, res);
});
httpServer.timeout = timeout * 3;
httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write('READY ' + httpServer.address().port + '\n');
});
process.on('SIGTERM', () => process.exit(0));
