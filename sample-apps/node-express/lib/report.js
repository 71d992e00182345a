'use strict';
// Loaded lazily by GET /report.
const util = require('util');

function build(n) {
  const numbers = Array.from({ length: n }, (_, i) => i + 1);
  const sum = numbers.reduce((a, b) => a + b, 0);
  return { n, sum, factorialDigits: factorial(BigInt(n)).toString().length, text: util.format('%d numbers', n) };
}

function factorial(n) {
  return n <= 1n ? 1n : n * factorial(n - 1n);
}

module.exports = { build };
