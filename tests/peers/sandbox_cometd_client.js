// The official CometD JavaScript client (npm cometd + cometd-nodejs-client) as an independent Bayeux peer
// of the gwsnb sandbox.
// usage: node sandbox_cometd_client.js <notifications-url> <JSESSIONID> <csrf-token>
// Prints one JSON object per line on stdout:
//   {"event":"handshake","successful":bool,...}   every /meta/handshake reply
//   {"event":"subscribed","successful":bool}       after (re)subscribing to /v2/me/outbound
//   {"event":"message","message":{...}}            each message on /v2/me/outbound or /me/internal
//   {"event":"connect-failure","error":...}        an unsuccessful /meta/connect (e.g. 402)
// Stops (disconnects and exits 0) when stdin closes or receives a line "quit".
'use strict';

const [url, jsessionid, csrf] = process.argv.slice(2);
if (!url || !jsessionid || !csrf) {
  console.error('usage: node sandbox_cometd_client.js <url> <JSESSIONID> <csrf-token>');
  process.exit(2);
}

function out(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

(async () => {
  const { adapt } = await import('cometd-nodejs-client');
  const { CometD } = await import('cometd');
  adapt();
  const cometd = new CometD();
  cometd.unregisterTransport('websocket'); // GWS 8.5 is long-polling only
  cometd.configure({
    url: url,
    requestHeaders: { Cookie: 'JSESSIONID=' + jsessionid, 'X-CSRF-TOKEN': csrf },
    logLevel: 'warn',
  });
  const onMessage = (m) => out({ event: 'message', message: { channel: m.channel, data: m.data } });
  let subscription = null;
  // After every (re-)handshake the application must subscribe again (docs/cometd.md).
  cometd.addListener('/meta/handshake', (reply) => {
    out({ event: 'handshake', successful: reply.successful, clientId: reply.clientId || null, error: reply.error || null });
    if (reply.successful) {
      if (subscription) { cometd.clearSubscriptions(); }
      subscription = cometd.subscribe('/v2/me/outbound', onMessage, (sub) => {
        out({ event: 'subscribed', successful: sub.successful });
      });
    }
  });
  cometd.addListener('/meta/connect', (reply) => {
    if (!reply.successful) { out({ event: 'connect-failure', error: reply.error || null }); }
  });
  // /me/internal arrives without a subscription: a listener sees it.
  cometd.addListener('/me/internal', onMessage);
  cometd.handshake();

  let stopping = false;
  const stop = () => {
    if (stopping) { return; }
    stopping = true;
    cometd.disconnect(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => { if (chunk.split('\n').includes('quit')) { stop(); } });
  process.stdin.on('end', stop);
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
