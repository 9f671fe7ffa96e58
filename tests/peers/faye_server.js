// A faye 1.4.3 Bayeux server for the gwsnb client tests: an independent peer (not the sandbox).
// usage: node faye_server.js <port> [mount=/api/v2/notifications] [timeout_s=20]
// Control endpoint (plain HTTP, same port): POST /publish {"channel": "...", "data": {...}} publishes
// through faye's own server-side client and answers {"ok": true}; GET /clients answers the number of
// connected Bayeux clients. Prints "READY <port>" once listening.
'use strict';
const http = require('http');
const faye = require('faye');

const port = parseInt(process.argv[2] || '0', 10);
const mount = process.argv[3] || '/api/v2/notifications';
const timeout = parseFloat(process.argv[4] || '20');

const bayeux = new faye.NodeAdapter({ mount: mount, timeout: timeout });
let subscribers = 0;
bayeux.on('subscribe', () => { subscribers += 1; });
bayeux.on('unsubscribe', () => { subscribers -= 1; });
bayeux.on('disconnect', () => {});

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      let msg;
      try { msg = JSON.parse(body); } catch (e) { res.writeHead(400); res.end('bad json'); return; }
      const messages = Array.isArray(msg) ? msg : [msg];
      // one after the other, so that subscribers see them in this order
      messages.reduce((chain, m) => chain.then(() => bayeux.getClient().publish(m.channel, m.data)),
        Promise.resolve()).then(
        () => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"ok":true}'); },
        (err) => { res.writeHead(500); res.end(String(err && err.message)); });
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/subscribers') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ subscribers: subscribers }));
    return;
  }
  res.writeHead(404);
  res.end('not found');
});
bayeux.attach(server);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write('READY ' + server.address().port + '\n');
});
process.on('SIGTERM', () => process.exit(0));
