// Next-token loss of token windows under a real llama.cpp (node-llama-cpp's prebuilt CPU build).
// usage: node llama_nll.mjs REQUEST.json   (REQUEST: {"model": path, "adapter": path|null, "windows": [[ids]]})
// (The max logit comes from includeTop: 1; includeMax alone returned only the filtered token in 3.22.1.)
// prints {"n_targets", "loss_sum", "correct"} as one JSON line. Each window is evaluated from an
// empty KV cache, as fedlora's evaluate_stream does, and token ids are fed as given (no BOS added).
import fs from "node:fs";
import { getLlama } from "node-llama-cpp";

const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: req.model, gpuLayers: 0 });
const longest = Math.max(...req.windows.map((w) => w.length));
const context = await model.createContext({
  contextSize: Math.max(256, longest),
  batchSize: Math.max(256, longest),
  threads: 1,
  lora: req.adapter ? { adapters: [{ filePath: req.adapter, scale: 1.0 }] } : undefined,
});
const seq = context.getSequence();
let lossSum = 0, nTargets = 0, correct = 0;
for (const w of req.windows) {
  await seq.clearHistory();
  const input = w.map((tok, i) =>
    i + 1 < w.length
      ? [tok, { generateNext: { logits: { filter: { tokens: [w[i + 1]], includeTop: 1 } }, totalLogitWeight: true } }]
      : tok);
  const out = await seq.controlledEvaluate(input);
  for (let i = 0; i + 1 < w.length; ++i) {
    const next = out[i].next;
    let maxLogit = -Infinity, maxTok = -1;
    for (const [t, l] of next.logits) if (l > maxLogit) { maxLogit = l; maxTok = t; }
    const target = next.logits.get(w[i + 1]);
    lossSum -= target - maxLogit - Math.log(next.totalLogitWeight);
    nTargets += 1;
    if (maxTok === w[i + 1]) correct += 1;
  }
}
console.log(JSON.stringify({ n_targets: nTargets, loss_sum: lossSum, correct }));
await context.dispose();
await model.dispose();
