// Browser tests of the bipeft site: Debian's Chromium driven by
// playwright-core, against the built site (www/dist) served on 127.0.0.1.
// Every check runs twice: with --enable-unsafe-webgpu (a software WebGPU
// adapter) and without (no adapter: the page must say so and use the CPU).
// Any request to a host other than 127.0.0.1 fails the run. Screenshots go to
// tests/artifacts/.
//
//   node tests/browser/run.mjs [--dist www/dist] [--mode gpu|cpu|both]
//
// Needs `npm ci` in tests/browser and a built site (bash www/build.sh --dev).

import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const dist = path.resolve(root, option('--dist', 'www/dist'));
const modes = { both: ['gpu', 'cpu'], gpu: ['gpu'], cpu: ['cpu'] }[option('--mode', 'both')];
const fixtures = path.join(root, 'tests/fixtures/web');
const artifacts = path.join(root, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

// Flags from PLATFORM.md: no network chatter, no first-run UI.
const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--metrics-recording-only',
  '--no-pings',
];

if (!fs.existsSync(path.join(dist, 'index.html'))) {
  console.error(`${dist} is not built: run bash www/build.sh --dev first`);
  process.exit(2);
}
if (!fs.existsSync(chromiumPath)) {
  console.error(`no Chromium at ${chromiumPath}: apt-get install -y chromium chromium-driver (or set CHROMIUM)`);
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });

// --- A static server on 127.0.0.1 -----------------------------------------
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.tsv': 'text/tab-separated-values; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
};

function serve() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let file = path.normalize(path.join(dist, decodeURIComponent(url.pathname)));
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// --- A small harness ---------------------------------------------------------
const results = [];
async function check(mode, name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ mode, name, ok: true });
    console.log(`  ok   [${mode}] ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ mode, name, ok: false, error: e });
    console.log(`  FAIL [${mode}] ${name}\n${String(e.stack || e).replace(/^/gm, '       ')}`);
  }
}

const readJson = (name) => JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8'));

/** What the page must show for a configuration: per (slot, kind), data-rank. */
function expectedRanks(config) {
  const ranks = new Map();
  for (const m of config.modules) ranks.set(`${m.kind}|${m.name}`, m.rank === null ? 1 : m.rank);
  return ranks;
}

async function cells(page, testid = 'heatmap') {
  return page.$$eval(`[data-testid="${testid}"] [data-slot]`, (nodes) =>
    nodes.map((n) => ({
      slot: n.getAttribute('data-slot'),
      kind: n.getAttribute('data-kind'),
      rank: n.getAttribute('data-rank'),
      state: n.getAttribute('data-state'),
      fill: n.getAttribute('fill'),
    })),
  );
}

async function legend(page) {
  return page.$$eval('[data-testid="result-a"] .legend rect', (nodes) =>
    nodes.map((n) => ({ testid: n.getAttribute('data-testid'), rank: n.getAttribute('data-rank'), fill: n.getAttribute('fill') })),
  );
}

async function openInspect(page, files) {
  await page.setInputFiles('[data-testid="config-input"]', files.map((f) => path.join(fixtures, f)));
}

async function run(mode, baseUrl) {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: mode === 'gpu' ? [...BASE_FLAGS, '--enable-unsafe-webgpu'] : BASE_FLAGS,
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  const outside = [];
  // Every request leaves through here: anything not for 127.0.0.1 is refused and recorded.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === '127.0.0.1') return route.continue();
    outside.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.hostname !== '127.0.0.1') outside.push(request.url());
  });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const demoModel = JSON.parse(fs.readFileSync(path.join(dist, 'build.json'), 'utf8')).demo_model;
  const config = readJson('peft_config.json');
  const trace = readJson('search_trace.json');
  // The slots of the space as the CLI's search listed them in its trace.
  const expected = { slots: trace.slots.map((x) => ({ name: x.name, kind: x.kind, rank: expectedRanks(config).get(`${x.kind}|${x.name}`) ?? 0 })) };

  await check(mode, 'the page loads its wasm module', async () => {
    await page.goto(baseUrl, { waitUntil: 'load' });
    await page.waitForSelector('body[data-wasm="ready"]', { timeout: 60_000 });
    const version = await page.textContent('[data-testid="version"]');
    assert.match(version, /^v\d+\.\d+\.\d+/);
  });

  await check(mode, 'the explore view names the backend the search will use', async () => {
    await page.click('[data-testid="tab-explore"]');
    const box = page.locator('[data-testid="backend-status"]');
    await page.waitForSelector('[data-testid="backend-status"][data-backend]', { timeout: 30_000 });
    const backend = await box.getAttribute('data-backend');
    const text = await box.textContent();
    if (mode === 'gpu') {
      assert.equal(backend, 'webgpu', `expected a WebGPU adapter with --enable-unsafe-webgpu; page says: ${text}`);
      assert.match(text, /WebGPU adapter found/);
    } else {
      assert.equal(backend, 'cpu', `expected no WebGPU adapter without --enable-unsafe-webgpu; page says: ${text}`);
      assert.match(text, /WebGPU is not available/);
      assert.match(text, /CPU/);
    }
    await page.waitForFunction(() => document.querySelector('[data-testid="task-summary"]').textContent.includes('examples'));
    assert.match(await page.textContent('[data-testid="task-summary"]'), /320 examples · 2 classes \(0: 160, 1: 160\)/);
    await page.click('[data-testid="tab-inspect"]');
  });

  await check(mode, 'the explore view previews a space on a picked model config', async () => {
    await page.click('[data-testid="tab-explore"]');
    // A 2-layer BERT from the backbone fixtures: only its config.json is picked.
    const modelConfig = path.join(root, 'tests/fixtures/bert/bert_gelu_2h/config.json');
    const layers = JSON.parse(fs.readFileSync(modelConfig, 'utf8')).num_hidden_layers;
    await page.setInputFiles('[data-testid="model-files"]', [modelConfig]);
    await page.waitForFunction(() => /bert · 2 layers/.test(document.querySelector('[data-testid="model-summary"]').textContent));
    assert.match(await page.textContent('[data-testid="model-summary"]'), /Still missing: model\.safetensors, tokenizer\.json/);
    // Per block S1 has 6 LoRA, 2 adapter, 8 BitFit (6 linears, 2 norms) and 2
    // LN-tuning slots; the embedding LayerNorm adds a BitFit and an LN-tuning slot.
    const counts = { s1: 18 * layers + 2, lora: 6 * layers, s2: 3 * layers };
    for (const [space, n] of Object.entries(counts)) {
      await page.selectOption('[data-testid="space-select"]', space);
      await page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid="live-heatmap"] [data-slot]').length === n,
        n,
        { timeout: 10_000 },
      );
      const states = await page.$$eval('[data-testid="live-heatmap"] [data-slot]', (c) => [...new Set(c.map((x) => x.getAttribute('data-state')))]);
      assert.deepEqual(states, ['searching'], `${space}: every slot still searched`);
      assert.match(await page.textContent('[data-testid="space-summary"]'), new RegExp(`^${n} slots · supernet`));
    }
    await page.selectOption('[data-testid="space-select"]', 's1');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="live-heatmap"] [data-slot]').length === n, counts.s1);
    await page.screenshot({ path: path.join(artifacts, `${mode}-explore.png`), fullPage: true });
    await page.click('[data-testid="tab-inspect"]');
  });

  // The tiny BERT of tests/fixtures/web (2 layers, hidden 32, its own
  // tokenizer): with the adapter found the page takes it as the site's demo
  // model, without it from picked files, so both ways in are covered.
  await check(mode, 'a search runs in the page and ends within its budget', async () => {
    const tiny = path.join(fixtures, 'tiny-bert');
    const backboneParams = 36704; // transformers' BertModel(config).num_parameters()
    await page.click('[data-testid="tab-explore"]');
    if (mode === 'gpu') {
      assert.equal(demoModel, 'models/demo/', 'build the site with --demo-model tests/fixtures/web/tiny-bert');
      await page.check('[data-testid="model-demo"]');
    } else {
      await page.setInputFiles('[data-testid="model-files"]', ['config.json', 'model.safetensors', 'tokenizer.json'].map((f) => path.join(tiny, f)));
    }
    await page.waitForFunction(() => /^bert · 2 layers · width 32$/.test(document.querySelector('[data-testid="model-summary"]').textContent));
    await page.check('[data-testid="task-builtin"]');
    await page.selectOption('[data-testid="space-select"]', 's1');
    await page.fill('[data-testid="budget-value"]', '5');
    await page.selectOption('[data-testid="budget-unit"]', 'percent');
    // SwiftShader runs each step in seconds (its first in tens of seconds:
    // shader compilation), so the WebGPU search is the shorter one: larger
    // batches, fewer epochs and selection steps.
    const plan = mode === 'gpu' ? { epochs: 2, batch: 8, selectionSteps: 3, minSteps: 4 } : { epochs: 3, batch: 8, selectionSteps: 6, minSteps: 10 };
    await page.fill('[data-testid="epochs"]', String(plan.epochs));
    await page.fill('[data-testid="batch-size"]', String(plan.batch));
    await page.click('.advanced summary');
    await page.fill('[data-testid="max-length"]', '32');
    await page.fill('[data-testid="selection-start"]', '0');
    await page.fill('[data-testid="selection-steps"]', String(plan.selectionSteps));
    const started = Date.now();
    await page.click('[data-testid="search-start"]');
    await page.waitForSelector('[data-testid="explore-view"][data-search="done"], [data-testid="explore-view"][data-search="failed"]', { timeout: 300_000 });
    const errorText = await page.textContent('[data-testid="explore-error"]');
    assert.equal(await page.getAttribute('[data-testid="explore-view"]', 'data-search'), 'done', errorText);
    const status = await page.textContent('[data-testid="search-status"]');
    const ran = await page.getAttribute('[data-testid="search-backend"]', 'data-backend');
    console.log(`       search on ${ran}: ${((Date.now() - started) / 1000).toFixed(1)} s · ${status}`);
    console.log(`       ms per step: ${await page.getAttribute('[data-testid="search-status"]', 'data-step-ms')}`);
    // With an adapter the search itself runs on burn-wgpu; without, on the CPU fallback.
    assert.equal(ran, mode === 'gpu' ? 'wgpu' : 'ndarray', 'the backend the search ran on');
    assert.match(await page.textContent('[data-testid="search-backend"]'), mode === 'gpu' ? /burn-wgpu · WebGPU/ : /burn-ndarray · CPU fallback/);
    const match = status.match(/after (\d+) steps · (\d+) modules, ([\d,]+) trainable parameters of a budget of ([\d,]+)/);
    assert.ok(match, status);
    const [steps, modules, trainable, budget] = match.slice(1).map((x) => Number(x.replace(/,/g, '')));
    assert.equal(budget, Math.floor(0.05 * backboneParams), '5 % of the backbone');
    assert.ok(trainable > 0 && trainable <= budget, status);
    assert.ok(steps >= plan.minSteps, `${steps} steps`);
    const live = await cells(page, 'live-heatmap');
    assert.equal(live.length, 18 * 2 + 2, 'one cell per S1 slot of a 2-layer encoder');
    assert.ok(live.every((c) => c.state === 'kept' || c.state === 'pruned'));
    assert.equal(live.filter((c) => c.state === 'kept').length, modules);
    assert.ok(await page.isVisible('[data-testid="live-loss"]'));
    await page.screenshot({ path: path.join(artifacts, `${mode}-search.png`), fullPage: true });

    // The result opens in the inspect view with its trace, cell for cell.
    await page.click('[data-testid="open-result"]');
    await page.waitForSelector('[data-testid="heatmap"] [data-slot]');
    const inspected = await cells(page);
    assert.deepEqual(inspected.map((c) => `${c.kind}|${c.slot}|${c.rank}`), live.map((c) => `${c.kind}|${c.slot}|${c.rank}`));
    const frames = Number(await page.getAttribute('[data-testid="timeline"]', 'data-frames'));
    assert.ok(frames >= 3, `the replay has selection steps (${frames} frames)`);
    await page.click('[data-testid="result-a"] .close');
  });

  await check(mode, 'a search stops between steps and keeps what it reached', async () => {
    await page.click('[data-testid="tab-explore"]');
    // Many epochs and selection steps: only the stop button ends it soon.
    await page.fill('[data-testid="epochs"]', '40');
    await page.fill('[data-testid="selection-steps"]', '100');
    await page.click('[data-testid="search-start"]');
    await page.waitForFunction(() => /weight steps/.test(document.querySelector('[data-testid="live-stats"]').textContent), null, { timeout: 120_000 });
    await page.click('[data-testid="search-stop"]');
    await page.waitForSelector('[data-testid="explore-view"][data-search="done"], [data-testid="explore-view"][data-search="failed"]', { timeout: 120_000 });
    const status = await page.textContent('[data-testid="search-status"]');
    assert.match(status, /^Stopped after \d+ steps · \d+ modules/);
    const steps = Number(status.match(/after (\d+) steps/)[1]);
    assert.ok(steps < 40 * 10, `stopped early (${steps} steps)`);
    assert.ok(await page.isEnabled('[data-testid="search-start"]'), 'the search can start again');
    await page.click('[data-testid="tab-inspect"]');
  });

  await check(mode, 'the heat map has one cell per slot with the chosen ranks', async () => {
    await openInspect(page, ['peft_config.json', 'search_trace.json']);
    await page.waitForSelector('[data-testid="heatmap"] [data-slot]');
    const shown = await cells(page);
    assert.equal(shown.length, expected.slots.length, 'cells vs slots of the space');
    const byKey = new Map(shown.map((c) => [`${c.kind}|${c.slot}`, c]));
    assert.equal(byKey.size, shown.length, 'each (slot, kind) appears once');
    for (const slot of expected.slots) {
      const cell = byKey.get(`${slot.kind}|${slot.name}`);
      assert.ok(cell, `no cell for the ${slot.kind} slot ${slot.name}`);
      assert.equal(Number(cell.rank), slot.rank, `data-rank of ${slot.kind} ${slot.name}`);
    }
    // And straight from the configuration file: every kept module at its rank, nothing else kept.
    const ranks = expectedRanks(config);
    const kept = shown.filter((c) => c.rank !== '0');
    assert.equal(kept.length, config.modules.length, 'kept cells vs modules in peft_config.json');
    for (const c of kept) assert.equal(Number(c.rank), ranks.get(`${c.kind}|${c.slot}`), `${c.kind} ${c.slot}`);
  });

  await check(mode, 'cell colours follow the legend', async () => {
    const shown = await cells(page);
    const swatches = await legend(page);
    const rankFill = new Map(swatches.filter((s) => s.testid === 'legend-rank').map((s) => [s.rank, s.fill]));
    const onFill = swatches.find((s) => s.testid === 'legend-on').fill;
    const prunedFill = swatches.find((s) => s.testid === 'legend-pruned').fill;
    assert.deepEqual([...rankFill.keys()], ['1', '4', '8']);
    assert.equal(new Set(rankFill.values()).size, 3, 'three distinct rank colours');
    const onOff = new Set(['bitfit', 'lnfit']);
    for (const c of shown) {
      const want = c.rank === '0' ? prunedFill : onOff.has(c.kind) ? onFill : rankFill.get(c.rank);
      assert.equal(c.fill, want, `${c.kind} ${c.slot} at rank ${c.rank}`);
    }
    // The map is drawn in more than one colour: kept modules of several ranks.
    assert.ok(new Set(shown.map((c) => c.fill)).size >= 3);
    const trainable = await page.textContent('[data-testid="stat-trainable"] .stat-value');
    assert.equal(trainable.replace(/,/g, ''), String(config.trainable_params));
    await page.screenshot({ path: path.join(artifacts, `${mode}-inspect.png`), fullPage: true });
  });

  await check(mode, 'the timeline replays the trace', async () => {
    const selections = trace.events.filter((e) => e.event === 'selection');
    const slider = page.locator('[data-testid="timeline-slider"]');
    assert.equal(Number(await slider.getAttribute('max')), selections.length + 1);
    const setFrame = (f) => slider.evaluate((el, f) => {
      el.value = String(f);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, f);

    await setFrame(0);
    let shown = await cells(page);
    assert.ok(shown.every((c) => c.state === 'searching'), 'frame 0: every slot still searched');
    assert.match(await page.textContent('[data-testid="timeline-label"]'), /^Start/);

    const pruned = new Set();
    const fixed = new Set();
    for (let k = 1; k <= selections.length; k++) {
      for (const n of selections[k - 1].pruned_names) pruned.add(n);
      for (const n of selections[k - 1].fixed_names) fixed.add(n);
      const fixedLive = [...fixed].filter((n) => !pruned.has(n)).length;
      await setFrame(k);
      shown = await cells(page);
      assert.equal(shown.filter((c) => c.state === 'pruned').length, pruned.size, `pruned after step ${k}`);
      assert.equal(shown.filter((c) => c.state === 'fixed').length, fixedLive, `fixed after step ${k}`);
      assert.match(await page.textContent('[data-testid="timeline-label"]'), new RegExp(`^Selection step ${k} of ${selections.length}`));
      if (k === Math.ceil(selections.length / 2)) {
        await page.locator('[data-testid="result-a"]').screenshot({ path: path.join(artifacts, `${mode}-replay-step${k}.png`) });
      }
    }
    // The play button walks from the start to the result.
    await setFrame(0);
    await page.click('[data-testid="timeline-play"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="timeline"]').dataset.frame) >= 2, null, { timeout: 10_000 });
    await page.waitForFunction(
      (last) => Number(document.querySelector('[data-testid="timeline"]').dataset.frame) === last,
      selections.length + 1,
      { timeout: 60_000 },
    );
    shown = await cells(page);
    assert.ok(shown.every((c) => c.state === 'kept' || c.state === 'pruned'), 'the last frame is the result');
    assert.equal(shown.filter((c) => c.state === 'kept').length, config.modules.length);
  });

  await check(mode, 'two results side by side', async () => {
    await page.setInputFiles('[data-testid="compare-input"]', [path.join(fixtures, 'small_peft_config.json')]);
    await page.waitForSelector('[data-testid="heatmap-b"] [data-slot]');
    const small = readJson('small_peft_config.json');
    const b = await cells(page, 'heatmap-b');
    assert.equal(b.length, expected.slots.length);
    assert.equal(b.filter((c) => c.rank !== '0').length, small.modules.length);
    const a = await cells(page, 'heatmap');
    assert.equal(a.length, expected.slots.length, 'the first result stays');
    await page.screenshot({ path: path.join(artifacts, `${mode}-compare.png`), fullPage: true });
    await page.click('[data-testid="result-b"] .close');
    await page.waitForSelector('[data-testid="heatmap-b"]', { state: 'detached' });
  });

  // Every kind of result `bipeft search` writes: T5 and BERT, S1, S2 and
  // LoRA, the no_iter ablation and a baseline (tests/fixtures/web/searches,
  // from generate_spaces.sh on the tiny models).
  await check(mode, 'the visualiser opens every configuration bipeft search writes', async () => {
    const runs = fs.readdirSync(path.join(fixtures, 'searches')).sort();
    assert.ok(runs.length >= 6, runs.join(', '));
    const seen = new Set();
    for (const run of runs) {
      const dir = path.join('searches', run);
      const runConfig = readJson(path.join(dir, 'peft_config.json'));
      const runTrace = readJson(path.join(dir, 'search_trace.json'));
      // Close the last result first, so that its map is not mistaken for this one's.
      if (await page.isVisible('[data-testid="result-a"] .close')) {
        await page.click('[data-testid="result-a"] .close');
        await page.waitForSelector('[data-testid="heatmap"]', { state: 'detached' });
      }
      await openInspect(page, [path.join(dir, 'peft_config.json'), path.join(dir, 'search_trace.json')]);
      await page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid="heatmap"] [data-slot]').length === n && document.querySelector('[data-testid="inspect-error"]').hidden,
        runTrace.slots.length,
        { timeout: 10_000 },
      ).catch(async () => {
        throw new Error(`${run}: ${await page.textContent('[data-testid="inspect-error"]')}`);
      });
      const shown = await cells(page);
      const ranks = expectedRanks(runConfig);
      assert.deepEqual(
        shown.map((c) => `${c.kind}|${c.slot}|${c.rank}`),
        runTrace.slots.map((x) => `${x.kind}|${x.name}|${ranks.get(`${x.kind}|${x.name}`) ?? 0}`),
        `${run}: one cell per slot, in the trace's order, at the configuration's rank`,
      );
      const trainable = await page.textContent('[data-testid="stat-trainable"] .stat-value');
      assert.equal(trainable.replace(/,/g, ''), String(runConfig.trainable_params), run);
      const selections = runTrace.events.filter((e) => e.event === 'selection').length;
      if (selections > 0) {
        const frames = Number(await page.getAttribute('[data-testid="timeline"]', 'data-frames'));
        assert.equal(frames, selections + 2, `${run}: start, ${selections} selection steps, the result`);
      }
      seen.add(`${runConfig.backbone.model_type} ${runConfig.space.name}`);
      if (run === 't5_s2' || run === 'bert_s1') {
        await page.screenshot({ path: path.join(artifacts, `${mode}-inspect-${run}.png`), fullPage: true });
      }
    }
    for (const want of ['t5 s1', 't5 s2', 'bert s1', 'bert s2']) assert.ok(seen.has(want), `${want} among ${[...seen]}`);
  });

  await check(mode, 'a trace from another search is refused with a reason', async () => {
    await openInspect(page, ['peft_config.json', 'small_search_trace.json']);
    const error = page.locator('[data-testid="inspect-error"]');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /small_search_trace\.json: .*(different searches|another search)/);
  });

  await check(mode, 'a file that is not a configuration is refused with a reason', async () => {
    const junk = path.join(artifacts, 'not-a-config.json');
    fs.writeFileSync(junk, JSON.stringify({ hello: 'world' }));
    await page.setInputFiles('[data-testid="config-input"]', [junk]);
    const error = page.locator('[data-testid="inspect-error"]');
    await page.waitForFunction(() => /neither a peft_config\.json/.test(document.querySelector('[data-testid="inspect-error"]').textContent));
    assert.ok(await error.isVisible());
    const broken = JSON.parse(fs.readFileSync(path.join(fixtures, 'peft_config.json'), 'utf8'));
    broken.trainable_params += 1;
    const brokenPath = path.join(artifacts, 'broken_peft_config.json');
    fs.writeFileSync(brokenPath, JSON.stringify(broken));
    await page.setInputFiles('[data-testid="config-input"]', [brokenPath]);
    await page.waitForFunction(() => /trainable_params/.test(document.querySelector('[data-testid="inspect-error"]').textContent));
  });

  await check(mode, 'the example button loads the example result', async () => {
    await page.reload();
    await page.waitForSelector('body[data-wasm="ready"]');
    await page.click('[data-testid="load-example"]');
    await page.waitForSelector('[data-testid="heatmap"] [data-slot]');
    assert.equal((await cells(page)).length, expected.slots.length);
  });

  await check(mode, 'no request left 127.0.0.1 and the console stayed clean', async () => {
    assert.deepEqual(outside, [], 'requests to other hosts');
    // The refused files above log nothing; anything on the console is a bug.
    assert.deepEqual(consoleErrors, [], 'console errors');
  });

  await browser.close();
}

const server = await serve();
const baseUrl = `http://127.0.0.1:${server.address().port}/`;
console.log(`serving ${dist} at ${baseUrl}`);
for (const mode of modes) {
  console.log(`Chromium ${mode === 'gpu' ? 'with --enable-unsafe-webgpu' : 'without a WebGPU adapter'}:`);
  await run(mode, baseUrl);
}
server.close();
const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${path.relative(root, artifacts)}/`);
process.exit(failed.length ? 1 : 0);
