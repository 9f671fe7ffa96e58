// A minimal agent desktop for gwsnb's capture tests: what Workspace Web Edition does on the wire for
// GetChainedRecord, with the official CometD JavaScript client (npm `cometd`, the same package as the
// Node test peer).  Query parameters: user, pass, campaign, app, handles (comma separated), settle (connect
// replies to wait for after the last acknowledgement), cut (1: wait for a failed connect instead), wait
// (ms bound of that wait), mnd (CometD's maxNetworkDelay, ms).  window.agentResult is set when it has stopped.
import { CometD } from './cometd/cometd.js';

const q = new URLSearchParams(location.search);
const handles = (q.get('handles') || '').split(',').filter(Boolean).map(Number);
const settle = Number(q.get('settle') || '0');
const waitForCut = q.get('cut') === '1';
const waitMs = Number(q.get('wait') || '4000');
const basic = 'Basic ' + btoa(q.get('user') + ':' + q.get('pass'));
const result = { rest: [], handshakes: [], subscribed: null, connects: 0, connectFailures: 0, messages: 0, done: {} };
let csrfName = 'X-CSRF-TOKEN';
let csrf = null;

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// Waits until cond() holds, at most ms milliseconds; says whether it held.
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) { return false; }
    await sleep(25);
  }
  return true;
}

async function api(method, path, body) {
  const headers = { Authorization: basic, Accept: 'application/json' };
  if (body !== undefined) { headers['Content-Type'] = 'application/json'; }
  if (method !== 'GET' && csrf) { headers[csrfName] = csrf; }
  let response;
  try {
    response = await fetch('/api/v2' + path, {
      method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    result.rest.push({ method, path, error: String(e) });
    return null;
  }
  if (method === 'GET') {  // the token is read on every GET, as a desktop refreshes it
    csrfName = response.headers.get('X-CSRF-HEADER') || csrfName;
    csrf = response.headers.get(csrfName) || csrf;
  }
  let json = null;
  try { json = await response.json(); } catch (e) { json = null; }
  result.rest.push({ method, path, status: response.status, statusCode: json && json.statusCode });
  return json;
}

async function main() {
  await api('GET', '/me');
  const devices = await api('GET', '/me/devices');
  const first = devices && devices.devices && devices.devices[0];
  const devicePath = '/devices/' + (first ? first.id : 'none');
  await api('POST', '/me', { operationName: 'StartContactCenterSession', channels: ['voice'] });

  const cometd = new CometD();
  cometd.unregisterTransport('websocket');  // GWS 8.5 is long-polling only
  const requestHeaders = {};
  if (csrf) { requestHeaders[csrfName] = csrf; }
  const config = { url: location.origin + '/api/v2/notifications', requestHeaders, logLevel: 'warn', maxBackoff: 1000 };
  if (q.get('mnd')) { config.maxNetworkDelay = Number(q.get('mnd')); }  // else CometD's default (10 s)
  cometd.configure(config);
  const onMessage = (m) => {
    result.messages += 1;
    const data = m.data || {};
    const type = data.notificationType;
    if (data.referenceId && (type === 'ChainedRecordsDataEnd' || type === 'Error')) { result.done[data.referenceId] = type; }
  };
  let subscription = null;
  cometd.addListener('/meta/handshake', (reply) => {
    result.handshakes.push(reply.successful);
    if (!reply.successful) { return; }
    if (subscription) { cometd.clearSubscriptions(); }  // after a re-handshake the application subscribes again
    subscription = cometd.subscribe('/v2/me/outbound', onMessage, (sub) => {
      if (result.subscribed === null || sub.successful) { result.subscribed = sub.successful; }
    });
  });
  cometd.addListener('/meta/connect', (reply) => {
    result.connects += 1;
    if (!reply.successful) { result.connectFailures += 1; }
  });
  cometd.addListener('/me/internal', onMessage);  // user events arrive without a subscription
  cometd.handshake();
  await until(() => result.subscribed !== null || result.handshakes.includes(false), 3000);

  const refs = [];
  for (const handle of handles) {
    const ref = 'page-' + handle;
    refs.push(ref);
    await api('POST', '/me/outbound-records/' + handle, {
      operationName: 'GetChainedRecord', applicationId: Number(q.get('app')), campaignName: q.get('campaign'),
      devicePath, referenceId: ref,
    });
  }
  const afterAcks = result.connects;
  if (waitForCut) {
    await until(() => result.connectFailures > 0, waitMs);
  } else {
    await until(() => refs.every((r) => r in result.done) && result.connects >= afterAcks + settle, waitMs);
  }
  await new Promise((resolve) => { cometd.disconnect(resolve); setTimeout(resolve, 1500); });
}

main().catch((e) => { result.error = String(e && e.stack || e); }).finally(() => {
  document.getElementById('log').textContent = JSON.stringify(result, null, 1);
  window.agentResult = result;
});
