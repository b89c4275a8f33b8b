// The AFINN lexicon classifier (npm `sentiment@5.0.2`, the package whose test fixtures are the UCI
// sentences) on data/text/uci-sentences.jsonl, as that package validates itself: a sentence whose
// score is 0 or more is positive. Prints one JSON line with the accuracy per source and overall.
//   node bench/text/afinn.js PATH_TO_UNPACKED_PACKAGE data/text/uci-sentences.jsonl
const fs = require("fs");
const Sentiment = require(require("path").resolve(process.argv[2], "lib/index.js"));
const s = new Sentiment();
const rows = fs.readFileSync(process.argv[3], "utf8").trim().split("\n").map(JSON.parse);
const by = {};
let right = 0;
for (const r of rows) {
  const pred = s.analyze(r.text).score >= 0 ? "positive" : "negative";
  by[r.source] = by[r.source] || { right: 0, n: 0 };
  by[r.source].n++;
  if (pred === r.label) { by[r.source].right++; right++; }
}
const out = { tool: "afinn (sentiment@5.0.2)", accuracy: right / rows.length };
for (const k of Object.keys(by)) out[k] = by[k].right / by[k].n;
console.log(JSON.stringify(out));
