// Validates a HAR file against the HAR 1.2 JSON schema with the published `har-validator` package
// (ajv over `har-schema`): gwsnb's own captures are checked by code no one here wrote.
// Usage: node har_validate.js FILE.har  -> prints {"valid": true} or {"valid": false, "errors": [...]};
// exit status 0 when valid, 1 when not, 2 when the file cannot be read.
'use strict';
const fs = require('fs');
const validate = require('har-validator');

let har;
try {
  har = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (err) {
  console.log(JSON.stringify({ valid: false, errors: [String(err)] }));
  process.exit(2);
}
validate.har(har).then(
  () => { console.log(JSON.stringify({ valid: true, entries: har.log.entries.length })); process.exit(0); },
  (err) => {
    console.log(JSON.stringify({ valid: false, errors: (err.errors || [err]).map((e) => e.message ? `${e.dataPath || ''} ${e.message}` : String(e)) }));
    process.exit(1);
  });
