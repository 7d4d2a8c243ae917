// The web page of `frugal serve` in a real headless browser (Debian's
// chromium, driven by playwright-core), against a real server (stories260K,
// a small indexed folder, --api-key). Run by ../serve_web.sh with
//   BASE, KEY, SHOTS (folder for the screenshots), CHROMIUM, RETRIEVED (the
//   `frugal ask --retrieve-only --json` document for the Aurora question),
//   WEB_NODE_MODULES (where playwright-core is installed).
//
// Checks, at desktop width (1280x860):
//   - the key: the page asks for it, does nothing without it, refuses a
//     wrong one, works with the right one, keeps it in this tab only;
//   - chat: a message streams an answer (several updates of the text before
//     it ends, from a text/event-stream response), with token counts, speed
//     and energy, and the composer does not move while it streams; a message
//     with markup shows as text;
//   - ask: a question the documents do not answer shows the abstention with
//     the closest passages; a document containing <script>alert(1)</script>
//     shows as text and no script runs; an answered response shows each
//     sentence with its citation markers and support score, and a marker
//     opens the passage with the cited span highlighted, its document and
//     byte range, by keyboard too.
// stories260K cannot write citations (it never emits "[n]": every real
// answer abstains), so the answered response is one in the server's shape
// (its keys checked against a real /v1/ask response) built from the real
// retrieval of the question, with the span of the sentence that holds the
// price located here by hand; everything else comes from the server.
// Then at phone width (390x844): the same page without sideways scrolling.
// Throughout: no page error, no dialog, no Content-Security-Policy report,
// no request to another origin. Screenshots: SHOTS/*.png.
'use strict';
const fs = require('fs');
const path = require('path');
const {chromium} = require(path.join(process.env.WEB_NODE_MODULES, 'playwright-core'));

const BASE = process.env.BASE;
const KEY = process.env.KEY;
const SHOTS = process.env.SHOTS;
const retrieved = JSON.parse(fs.readFileSync(process.env.RETRIEVED, 'utf8'));
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const fails = [];
function check(cond, msg) {
  if (!cond) {
    fails.push(msg);
    console.error('FAIL: ' + msg);
  }
}

/* Records what must never happen on a page. */
function watch(page, problems) {
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('dialog', (d) => {
    problems.push('a dialog opened: ' + d.message());
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    const t = m.text();
    if (/Content.Security.Policy|Refused to/i.test(t)) problems.push('CSP: ' + t);
    else if (m.type() === 'error' && !/status of 401/.test(t)) problems.push('console error: ' + t);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(BASE + '/')) problems.push('request to another origin: ' + r.url());
  });
}

async function shot(page, name, opts) {
  await page.screenshot(Object.assign({path: path.join(SHOTS, name + '.png')}, opts || {}));
}

async function enterKey(page, key) {
  await page.getByTestId('api-key').fill(key);
  await page.getByTestId('api-key').press('Enter');
}

async function openSettings(page, panel) {
  const d = page.locator('#' + panel + ' details.settings');
  if (!(await d.evaluate((e) => e.open))) await d.locator('summary').click();
}

/* The answered /v1/ask response: the real retrieval, one cited sentence. */
function answeredResponse(real) {
  const passages = retrieved.passages;
  const p = passages.find((x) => x.text.includes('costs $149.00'));
  if (!p) throw new Error('retrieval did not find the Aurora passage: ' + JSON.stringify(passages.map((x) => x.path)));
  const want = 'The Aurora X2 costs $149.00 and ships with a calibration certificate.';
  const at = p.text.indexOf(want);
  if (at < 0) throw new Error('the passage does not hold: ' + want);
  const span = {off: Buffer.byteLength(p.text.slice(0, at)), len: Buffer.byteLength(want)};
  const text = 'The Aurora X2 costs $149.00 [' + p.n + '].';
  const j = {
    question: retrieved.question, outcome: 'answered', abstained: false, answer: text,
    model_answer: text, threshold: 0.6, score: 0.91,
    sentences: [{text, score: 0.91, support: 0.91, facts: 2, facts_missing: 0, missing: null,
                 token_prob: 0.93,
                 citations: [{n: p.n, path: p.path, page: p.page, byte_off: p.byte_off,
                              byte_len: p.byte_len, span}],
                 // the citation's span is its sub-claim's evidence window
                 subclaims: [{text: 'The Aurora X2 costs $149.00', kind: 'main', verdict: 'supported',
                              score: 0.91, support: 1, facts: 2, facts_missing: 0, missing: null,
                              evidence: {passage: p.n, offset: span.off, length: span.len, text: want,
                                         truncated: false}}]}],
    gate: retrieved.gate, passages,
    energy: {tokens: 12, generate_seconds: 0.41, joules: 1.75, retrieve_seconds: 0.004},
    id: 'ask-test', model: real.model,
    usage: {prompt_tokens: 812, completion_tokens: 12, total_tokens: 824,
            energy_joules: 1.75, energy_source: 'estimate'},
  };
  // the shape is the server's: every key a real response has, at every level
  const missing = (a, b, where) => Object.keys(a).filter((k) => !(k in b)).map((k) => where + k);
  const gaps = [...missing(real, j, ''), ...missing(real.passages[0], passages[0], 'passages.'),
                ...(real.sentences && real.sentences[0] ? missing(real.sentences[0], j.sentences[0], 'sentences.') : [])];
  if (gaps.length) throw new Error('the answered response lacks keys a real one has: ' + gaps.join(', '));
  return {j, p, want};
}

async function askAndWait(page, question, what) {
  await page.getByTestId('question').fill(question);
  const resp = page.waitForResponse((r) => r.url().endsWith('/v1/ask'));
  await page.getByTestId('question').press('Enter');
  const r = await resp;
  await page.waitForFunction(() => !document.querySelector('#answer .pending'));
  if (what) await page.getByTestId(what).first().waitFor();
  return r;
}

async function desktop(browser) {
  const problems = [];
  const ctx = await browser.newContext({viewport: {width: 1280, height: 860}});
  const page = await ctx.newPage();
  page.setDefaultTimeout(120000);
  watch(page, problems);

  // ---- the key ---------------------------------------------------------------------
  await page.goto(BASE + '/');
  await page.getByTestId('api-key').waitFor();
  check(await page.getByTestId('chat-input').isDisabled(), 'the chat input works before the key');
  check(await page.getByTestId('chat-send').isDisabled(), 'the send button works before the key');
  await shot(page, 'desktop-key');
  await enterKey(page, 'wrong-' + KEY);
  await page.waitForFunction(() => /not accepted/.test(document.getElementById('key-msg').textContent));
  check(await page.getByTestId('chat-input').isDisabled(), 'a wrong key unlocked the page');
  await enterKey(page, KEY);
  await page.waitForFunction(() => !document.querySelector('[data-testid=chat-input]').disabled);
  check(await page.getByTestId('key-form').isHidden(), 'the key form stays after the right key');
  const kept = await page.evaluate(() => ({local: localStorage.length, cookie: document.cookie,
                                            session: sessionStorage.getItem('frugal.key')}));
  check(kept.local === 0 && kept.cookie === '' && kept.session === KEY,
        'the key is kept somewhere else than this tab: ' + JSON.stringify(kept));
  const tab2 = await ctx.newPage();
  watch(tab2, problems);
  await tab2.goto(BASE + '/');
  await tab2.getByTestId('api-key').waitFor();
  check(await tab2.getByTestId('chat-input').isDisabled(), 'a second tab got the key');
  await tab2.close();

  // ---- chat ---------------------------------------------------------------------------
  await openSettings(page, 'chat');
  await page.fill('#system', 'You tell short stories.');
  await page.fill('#temperature', '0');
  await page.fill('#max_tokens', '200');
  await page.locator('#chat details.settings summary').click(); // close again
  await page.evaluate(() => {
    window.__lens = [];
    const log = document.querySelector('[data-testid=chat-output]');
    new MutationObserver(() => {
      const m = [...log.querySelectorAll('.msg.assistant')].pop();
      if (m && m.classList.contains('streaming')) window.__lens.push(m.querySelector('.text').textContent.length);
    }).observe(log, {subtree: true, childList: true, characterData: true});
  });
  const composerBefore = await page.locator('#chat-form').boundingBox();
  const chatResp = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
  await page.getByTestId('chat-input').fill('Once upon a time <b>there</b> was');
  await page.getByTestId('chat-send').click();
  const cr = await chatResp;
  check(/text\/event-stream/.test(cr.headers()['content-type'] || ''), 'the chat answer is not an event stream');
  check(JSON.parse(cr.request().postData()).stream === true, 'the chat request is not streamed');
  await page.locator('.msg.assistant [data-testid=energy]').waitFor();
  const lens = await page.evaluate(() => window.__lens);
  const grew = new Set(lens.filter((n) => n > 0)).size;
  check(grew >= 2, 'the answer did not stream: its text changed ' + grew + ' time(s) while streaming');
  const out = await page.locator('.msg.assistant .text').last().textContent();
  check(out.length > 0, 'the chat answer is empty');
  const stats = await page.locator('.msg.assistant .stats').last().textContent();
  check(/\d+ tokens/.test(stats) && /tok\/s/.test(stats), 'chat stats lack tokens or speed: ' + stats);
  const energy = await page.locator('.msg.assistant [data-testid=energy]').last().textContent();
  check(/\d J|\d mJ/.test(energy) && /\$0\.\d+ at \$0\.25\/kWh/.test(energy) && /estimated/.test(energy),
        'chat energy line: ' + energy);
  const composerAfter = await page.locator('#chat-form').boundingBox();
  check(Math.abs(composerAfter.y - composerBefore.y) < 1 && Math.abs(composerAfter.height - composerBefore.height) < 1,
        'the composer moved while the answer streamed: ' + JSON.stringify([composerBefore, composerAfter]));
  const userText = await page.locator('.msg.user .text').last().textContent();
  check(userText === 'Once upon a time <b>there</b> was', 'the message is not shown as typed: ' + userText);
  check((await page.locator('[data-testid=chat-output] b').count()) === 0, 'markup in a message became HTML');
  check(!(await page.getByTestId('chat-send').isDisabled()), 'send stays disabled after the answer');
  await shot(page, 'desktop-chat');

  // ---- ask: by keyboard to the tab ----------------------------------------------------
  await page.locator('#tab-chat').focus();
  await page.keyboard.press('ArrowRight');
  check(await page.locator('#ask').isVisible(), 'ArrowRight on the tabs did not open Ask');
  check(await page.evaluate(() => document.activeElement.id === 'tab-ask'), 'focus did not follow the tab');

  // a question the documents do not answer: the gate abstains, nothing generated
  await askAndWait(page, 'Which drones does the Zephyr 9000 support?', 'abstained');
  const ab = await page.getByTestId('abstained').textContent();
  check(/do not answer/.test(ab) && /Retrieval found no passage/.test(ab), 'abstention text: ' + ab);
  check((await page.getByTestId('citation').count()) === 0, 'an abstention shows citations');
  const abEnergy = await page.locator('#ask-stats [data-testid=energy]').textContent();
  check(/no energy spent/.test(abEnergy), 'a gate abstention claims energy: ' + abEnergy);
  await shot(page, 'desktop-abstained');

  // a document with markup, through the whole pipeline: stories260K answers,
  // the checker rejects it, the page shows the abstention and the passages
  const zr = await askAndWait(page, 'What does the Zorblax console print?', 'abstained');
  const real = await zr.json();
  check(real.outcome === 'abstain_low_support' || real.outcome === 'abstain_not_found',
        'the Zorblax question: outcome ' + real.outcome);
  const zab = await page.getByTestId('abstained').textContent();
  check(/do not answer/.test(zab), 'no abstention shown for the Zorblax question: ' + zab);
  const zEnergy = await page.locator('#ask-stats [data-testid=energy]').textContent();
  check(/\d (m)?J/.test(zEnergy) && /\$/.test(zEnergy), 'the energy of an answer that was generated: ' + zEnergy);
  const link = page.locator('.passage-link', {hasText: 'zorblax-notes'}).first();
  await link.click();
  await page.getByTestId('passage').waitFor();
  const ptext = await page.locator('#passage-text').textContent();
  check(ptext.includes('<script>alert(1)</script>') && ptext.includes('<img src=x onerror=alert(2)>'),
        'the document\'s markup is not shown as text: ' + ptext);
  const snips = await page.locator('.passage-link .snip').allTextContents();
  check(snips.some((s) => s.includes('<script>alert(1)</script>')), 'the snippet lost its text');
  const dom = await page.evaluate(() => ({scripts: document.scripts.length,
    injected: document.querySelectorAll('main script, main img, main iframe').length}));
  check(dom.scripts === 1 && dom.injected === 0, 'the document\'s markup became elements: ' + JSON.stringify(dom));
  await shot(page, 'desktop-xss');

  // an answered response: citations, support, the passage with its span
  const {j, p, want} = answeredResponse(real);
  await page.route('**/v1/ask', (route) => route.fulfill({status: 200, contentType: 'application/json',
                                                          body: JSON.stringify(j)}));
  await askAndWait(page, 'What does the Aurora X2 thermometer cost?', 'citation');
  check((await page.getByTestId('abstained').count()) === 0, 'an answer shown as an abstention');
  const ans = await page.getByTestId('answer').textContent();
  check(ans.includes('The Aurora X2 costs $149.00'), 'the answer text: ' + ans);
  check((await page.getByTestId('citation').count()) === 1, 'one citation marker expected');
  check((await page.locator('.sentence.ok .support .score').textContent()) === '0.91', 'the support score is not shown');
  const askEnergy = await page.locator('#ask-stats [data-testid=energy]').textContent();
  check(/1\.75 J/.test(askEnergy) && /\$0\.00000012 at \$0\.25\/kWh/.test(askEnergy),
        'the answer\'s energy and cost: ' + askEnergy);
  // by keyboard: focus the marker, Enter opens, Escape closes and gives focus back
  await page.getByTestId('citation').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('passage').waitFor();
  check((await page.locator('[data-testid=passage] mark').textContent()) === want,
        'the highlighted span: ' + (await page.locator('[data-testid=passage] mark').textContent()));
  const meta = await page.locator('#passage-meta').textContent();
  check(meta.includes(p.path) && meta.includes(p.byte_off + '–' + (p.byte_off + p.byte_len)),
        'the passage\'s document and bytes: ' + meta);
  await page.keyboard.press('Escape');
  check(await page.getByTestId('passage').isHidden(), 'Escape did not close the passage');
  check(await page.evaluate(() => document.activeElement.dataset.testid === 'citation'),
        'focus did not return to the marker');
  await page.getByTestId('citation').click();
  await page.getByTestId('passage').waitFor();
  await shot(page, 'desktop-ask');
  await page.unroute('**/v1/ask');

  await ctx.close();
  return {problems, j};
}

async function phone(browser, j) {
  const problems = [];
  const ctx = await browser.newContext({viewport: {width: 390, height: 844}, deviceScaleFactor: 2,
                                        isMobile: true, hasTouch: true});
  const page = await ctx.newPage();
  page.setDefaultTimeout(120000);
  watch(page, problems);
  await page.goto(BASE + '/');
  await page.getByTestId('api-key').waitFor();
  await enterKey(page, KEY);
  await page.waitForFunction(() => !document.querySelector('[data-testid=chat-input]').disabled);
  await page.getByTestId('chat-input').fill('Once upon a time');
  await page.getByTestId('chat-send').click();
  await page.locator('.msg.assistant [data-testid=energy]').waitFor();
  const wide = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check((await wide()) <= 0, 'the chat scrolls sideways at phone width');
  await shot(page, 'phone-chat');
  await page.locator('#tab-ask').click();
  await page.route('**/v1/ask', (route) => route.fulfill({status: 200, contentType: 'application/json',
                                                          body: JSON.stringify(j)}));
  await askAndWait(page, 'What does the Aurora X2 thermometer cost?', 'citation');
  await page.getByTestId('citation').click();
  await page.getByTestId('passage').waitFor();
  check(await page.locator('[data-testid=passage] mark').isVisible(), 'no highlighted span at phone width');
  check((await wide()) <= 0, 'the answer scrolls sideways at phone width');
  await shot(page, 'phone-ask', {fullPage: true});
  await ctx.close();
  return problems;
}

(async () => {
  const browser = await chromium.launch({executablePath: process.env.CHROMIUM, headless: true, args: FLAGS});
  try {
    const d = await desktop(browser);
    const problems = d.problems.concat(await phone(browser, d.j));
    for (const p of problems) check(false, p);
  } finally {
    await browser.close();
  }
  if (fails.length) {
    console.error(fails.length + ' failure(s)');
    process.exit(1);
  }
  console.log('web page: ok; screenshots in ' + SHOTS);
})().catch((e) => {
  console.error(e.stack || e.message || e);
  process.exit(1);
});
