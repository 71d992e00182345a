'use strict';
// Sample app for slimmer: express + the crypto built-in, and a lazily required module.
const crypto = require('crypto');
const express = require('express');

const app = express();
const port = Number(process.env.PORT || 3000);

app.get('/', (req, res) => {
  res.type('html').send(
    '<!doctype html><html><head><title>node-express sample</title></head><body>' +
    '<h1>node-express sample</h1><ul>' +
    '<li><a href="/hash?text=hello">sha256 of a text</a></li>' +
    '<li><a href="/report?n=4">report</a></li>' +
    '</ul></body></html>');
});

app.get('/hash', (req, res) => {
  const text = String(req.query.text ?? '');
  const algorithm = String(req.query.alg ?? 'sha256');
  if (!crypto.getHashes().includes(algorithm)) {
    return res.status(400).json({ error: `unknown algorithm ${algorithm}` });
  }
  const hex = crypto.createHash(algorithm).update(text, 'utf8').digest('hex');
  res.json({ algorithm, text, hex });
});

app.get('/report', (req, res) => {
  // Required here, not at the top: nothing loads it until someone asks.
  const report = require('./lib/report');
  const n = Number.parseInt(String(req.query.n ?? '3'), 10);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    return res.status(400).json({ error: 'n must be 1..1000' });
  }
  res.json(report.build(n));
});

const server = app.listen(port, '0.0.0.0', () => {
  console.log(`node-express sample listening on ${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
