// Verifies wagate webhook deliveries the way a Node receiver would.
//
// stdin: JSON {"cases": [{"name", "body_b64", "headers", "secret"}]}
// stdout: JSON [{"name", "sak", "standard", "roundtrip", "restringified"}]
//
// "sak" runs the verify snippet of the SAK migration response, copied as it is
// published, on a request shaped as express.json() leaves it (headers lower-cased,
// body decoded as UTF-8 and JSON.parse'd). "standard" checks the Standard Webhooks
// signature over the raw bytes with node:crypto.
'use strict';

// ---- verbatim from seeds/sak-client-migration-response.md, "Webhook Security" ----
const crypto = require('crypto');

function verifyWebhook(req) {
  const signature = req.headers['x-webhook-signature'];
  const secret = req.headers['x-webhook-secret'];
  const body = JSON.stringify(req.body);

  const expectedSig = 'sha256=' + crypto
    .createHmac('sha256', secret)
    .update(body)
    .digest('hex');

  return signature === expectedSig;
}
// ---- end of the snippet ----

function standardKey(secret) {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

function verifyStandard(headers, raw, secret) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const expected = 'v1,' + crypto
    .createHmac('sha256', standardKey(secret))
    .update(`${id}.${timestamp}.`)
    .update(raw)
    .digest('base64');
  return headers['webhook-signature'].split(' ').includes(expected);
}

function lowerCaseKeys(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function check(testCase) {
  const raw = Buffer.from(testCase.body_b64, 'base64');
  const text = raw.toString('utf8');
  const headers = lowerCaseKeys(testCase.headers);
  const req = { headers, body: JSON.parse(text) };
  const restringified = JSON.stringify(req.body);
  return {
    name: testCase.name,
    sak: verifyWebhook(req),
    standard: verifyStandard(headers, raw, testCase.secret),
    roundtrip: restringified === text,
    restringified: restringified === text ? null : restringified,
  };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { cases } = JSON.parse(input);
  process.stdout.write(JSON.stringify(cases.map(check)));
});
