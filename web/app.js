/*
 * app.js - the web page's behaviour: the API key, the chat (streamed from
 * /v1/chat/completions) and the ask tab (/v1/ask: the answer with its
 * citation markers, the cited passage with the supporting span
 * highlighted, support scores, abstentions, energy and cost).
 *
 * Rules this file keeps:
 *  - Everything shown is set with textContent or built with createElement;
 *    nothing from the server, a document or the model ever goes through
 *    innerHTML, so a document containing <script> is shown as text. (The
 *    server's Content-Security-Policy forbids inline script as well.)
 *  - The key lives in sessionStorage: this tab only, gone when it closes;
 *    never localStorage, a cookie or the URL.
 *  - Plain browser JavaScript, no build step, no library, nothing fetched
 *    from elsewhere.
 */
'use strict';

(function () {
  const KEY_ITEM = 'frugal.key';
  const $ = (id) => document.getElementById(id);

  /* An element: h('p', {className: 'x', text: 'y', dataset: {testid: 'z'}}, child...). */
  function h(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'className') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, String(v));
    }
    for (const kid of kids) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  const state = {
    key: sessionStorage.getItem(KEY_ITEM) || '',
    model: null,
    props: null,
    ready: false,
    chat: [],          /* [{role, content}] sent with each request */
    ctrl: null,        /* AbortController of the running chat answer */
    asking: false,
    lastMarker: null,  /* the citation button that opened the passage */
  };

  /* ---- formatting ---------------------------------------------------------- */

  function fmtNum(x, digits) {
    return Number.isFinite(x) ? x.toFixed(digits) : '–';
  }
  function fmtSeconds(s) {
    if (!Number.isFinite(s)) return '–';
    return s < 1 ? (s * 1000).toFixed(0) + ' ms' : s.toFixed(s < 10 ? 2 : 1) + ' s';
  }
  /* Two significant digits, never an exponent. */
  function sig2(x) {
    if (!(x > 0)) return '0';
    const d = Math.max(0, 1 - Math.floor(Math.log10(x)));
    return x.toFixed(Math.min(d, 14));
  }
  function fmtJoules(j) {
    if (j >= 1000) return (j / 1000).toFixed(2) + ' kJ';
    if (j >= 1) return j.toFixed(j < 10 ? 2 : 1) + ' J';
    return sig2(j * 1000) + ' mJ';
  }
  function fmtWh(j) {
    const wh = j / 3600;
    return wh >= 1 ? wh.toFixed(2) + ' Wh' : sig2(wh * 1000) + ' mWh';
  }
  function price() {
    const p = state.props && state.props.price_kwh;
    return p > 0 ? p : 0.16;
  }
  function fmtUsd(j) {
    const usd = j / 3.6e6 * price();
    return '$' + (usd >= 0.01 ? usd.toFixed(2) : sig2(usd));
  }
  function sourceLabel(src) {
    return src === 'estimate' ? 'estimated from CPU time' : src ? 'measured by ' + src : '';
  }

  /* The energy line of an answer: joules, Wh, dollars, and where they come from. */
  function energyParts(joules, source) {
    if (!(joules >= 0) || !source || source === 'none')
      return ['energy not measured on this server'];
    return [fmtJoules(joules) + ' (' + fmtWh(joules) + ')',
            fmtUsd(joules) + ' at $' + price() + '/kWh',
            sourceLabel(source)];
  }

  /* ---- the API ---------------------------------------------------------------- */

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function errorMessage(r) {
    try {
      const j = await r.json();
      if (j && j.error && j.error.message) return j.error.message;
    } catch (e) { /* not JSON */ }
    return 'HTTP ' + r.status;
  }

  async function api(path, init) {
    init = init || {};
    const headers = new Headers(init.headers || {});
    if (state.key) headers.set('Authorization', 'Bearer ' + state.key);
    if (init.body) headers.set('Content-Type', 'application/json');
    const r = await fetch(path, Object.assign({}, init, {headers, cache: 'no-store'}));
    if (r.status === 401) {
      const msg = await errorMessage(r);
      const had = !!state.key;
      state.key = '';
      sessionStorage.removeItem(KEY_ITEM);
      askForKey(had ? 'That key was not accepted.' : null);
      throw new ApiError(401, msg);
    }
    if (!r.ok) throw new ApiError(r.status, await errorMessage(r));
    return r;
  }

  /* ---- connection and the key ------------------------------------------------- */

  function setStatus(text, kind) {
    const s = $('status');
    s.textContent = text;
    s.dataset.kind = kind || '';
  }

  function setReady(ready) {
    state.ready = ready;
    const chatBusy = state.ctrl !== null;
    $('chat-input').disabled = !ready;
    $('chat-send').disabled = !ready || chatBusy;
    const ask = ready && state.props && state.props.ask;
    $('question').disabled = !ask;
    $('ask-button').disabled = !ask || state.asking;
    $('ask-off').hidden = !ready || !!(state.props && state.props.ask);
  }

  function askForKey(message) {
    setReady(false);
    $('key-form').hidden = false;
    $('key-change').hidden = true;
    const msg = $('key-msg');
    msg.textContent = message || 'Kept in this tab only: closing the tab forgets it.';
    msg.dataset.kind = message ? 'error' : '';
    setStatus('API key needed', 'warn');
    $('key-input').focus();
  }

  async function connect() {
    try {
      if (!state.model) {
        const r = await api('/v1/models');
        const j = await r.json();
        state.model = j.data && j.data[0] && j.data[0].id;
        $('model').textContent = state.model || '(no model)';
      }
      const r = await api('/props');
      state.props = await r.json();
    } catch (e) {
      if (e.status === 401) return;
      if (e.status === 503) {
        setStatus('loading the model…', 'warn');
        setTimeout(connect, 1000);
        return;
      }
      setStatus('cannot reach the server: ' + e.message, 'error');
      setTimeout(connect, 3000);
      return;
    }
    $('key-form').hidden = true;
    $('key-change').hidden = !state.key;
    const p = state.props;
    setStatus('ready · ' + (p.total_slots || 1) + ' slot' + (p.total_slots === 1 ? '' : 's') +
              ' · ' + (p.n_ctx || '?') + ' tokens of context', 'ok');
    const t = p.default_generation_settings || {};
    if (Number.isFinite(t.temperature)) $('temperature').value = String(+t.temperature.toFixed(2));
    if (Number.isFinite(t.top_p)) $('top_p').value = String(+t.top_p.toFixed(2));
    setReady(true);
  }

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = $('key-input').value.trim();
    if (!k) return;
    state.key = k;
    sessionStorage.setItem(KEY_ITEM, k);
    $('key-input').value = '';
    connect();
  });
  $('key-change').addEventListener('click', () => {
    state.key = '';
    sessionStorage.removeItem(KEY_ITEM);
    askForKey(null);
  });

  /* ---- tabs --------------------------------------------------------------------- */

  const tabs = [$('tab-chat'), $('tab-ask')];
  function selectTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
    const first = tab === tabs[0] ? $('chat-input') : $('question');
    if (!first.disabled && !focus) first.focus();
  }
  for (const t of tabs) {
    t.addEventListener('click', () => selectTab(t, false));
    t.addEventListener('keydown', (ev) => {
      const i = tabs.indexOf(t);
      let j = -1;
      if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
      else if (ev.key === 'ArrowLeft') j = (i + tabs.length - 1) % tabs.length;
      else if (ev.key === 'Home') j = 0;
      else if (ev.key === 'End') j = tabs.length - 1;
      if (j >= 0) {
        ev.preventDefault();
        selectTab(tabs[j], true);
      }
    });
  }

  /* ---- chat ---------------------------------------------------------------------- */

  const log = $('chat-log');

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }
  function addMessage(role, text) {
    $('chat-empty').hidden = true;
    const body = h('div', {className: 'text', text});
    const stats = h('div', {className: 'stats'});
    const m = h('article', {className: 'msg ' + role, 'aria-label': role === 'user' ? 'You' : 'Model'},
                h('div', {className: 'who', text: role === 'user' ? 'You' : state.model || 'model'}),
                body, role === 'assistant' ? stats : null);
    log.append(m);
    log.scrollTop = log.scrollHeight;
    return {m, body, stats};
  }

  function chatStats(el, s) {
    el.replaceChildren();
    const parts = [];
    if (s.usage) {
      const u = s.usage;
      parts.push(u.completion_tokens + ' tokens', u.prompt_tokens + ' prompt tokens' +
                 (u.prompt_tokens_details && u.prompt_tokens_details.cached_tokens
                    ? ' (' + u.prompt_tokens_details.cached_tokens + ' cached)' : ''));
    } else {
      parts.push('~' + s.chunks + ' tokens');
    }
    const n = s.usage ? s.usage.completion_tokens : s.chunks;
    if (s.tFirst !== null && s.tLast > s.tFirst && n > 1)
      parts.push(fmtNum((n - 1) / ((s.tLast - s.tFirst) / 1000), 1) + ' tok/s');
    if (s.tFirst !== null) parts.push('first token ' + fmtSeconds((s.tFirst - s.t0) / 1000));
    if (s.stopped) parts.push('stopped');
    else if (s.finish === 'length') parts.push('cut at max tokens');
    el.append(h('span', {text: parts.join(' · ')}));
    if (s.usage) {
      el.append(h('span', {className: 'energy', dataset: {testid: 'energy'},
                           text: energyParts(s.usage.energy_joules, s.usage.energy_source).join(' · ')}));
    }
  }

  function readSettings() {
    const num = (id) => {
      const v = $(id).value.trim();
      return v === '' ? undefined : Number(v);
    };
    const o = {temperature: num('temperature'), top_p: num('top_p'), max_tokens: num('max_tokens')};
    const seed = num('seed');
    if (seed !== undefined) o.seed = Math.trunc(seed);
    return o;
  }

  async function sendChat(text) {
    state.chat.push({role: 'user', content: text});
    addMessage('user', text);
    const out = addMessage('assistant', '');
    out.m.classList.add('streaming');
    out.stats.textContent = 'generating…';
    const msgs = [];
    const sys = $('system').value.trim();
    if (sys) msgs.push({role: 'system', content: sys});
    msgs.push(...state.chat);
    const body = Object.assign({model: state.model, messages: msgs, stream: true,
                                stream_options: {include_usage: true}}, readSettings());
    const ctrl = new AbortController();
    state.ctrl = ctrl;
    $('chat-stop').disabled = false;
    setReady(state.ready);
    const s = {t0: performance.now(), tFirst: null, tLast: null, chunks: 0, usage: null,
               finish: null, stopped: false};
    let text2 = '';
    let failed = null;
    try {
      const r = await api('/v1/chat/completions', {method: 'POST', body: JSON.stringify(body),
                                                   signal: ctrl.signal});
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      let done = false;
      while (!done) {
        const {value, done: end} = await reader.read();
        if (end) break;
        buf += dec.decode(value, {stream: true});
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          for (const line of ev.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') {
              done = true;
              continue;
            }
            const j = JSON.parse(data);
            if (j.error) throw new ApiError(0, j.error.message || 'the server stopped the answer');
            const c = j.choices && j.choices[0];
            if (c && c.delta && typeof c.delta.content === 'string' && c.delta.content) {
              const stick = nearBottom();
              text2 += c.delta.content;
              out.body.textContent = text2;
              s.chunks++;
              s.tLast = performance.now();
              if (s.tFirst === null) s.tFirst = s.tLast;
              if (stick) log.scrollTop = log.scrollHeight;
            }
            if (c && c.finish_reason) s.finish = c.finish_reason;
            if (j.usage) s.usage = j.usage;
          }
        }
      }
    } catch (e) {
      if (e.name === 'AbortError') s.stopped = true;
      else failed = e;
    }
    state.ctrl = null;
    $('chat-stop').disabled = true;
    const stick = nearBottom();
    out.m.classList.remove('streaming');
    if (failed) {
      out.m.classList.add('error');
      out.stats.textContent = 'error: ' + failed.message;
      state.chat.pop();
    } else {
      state.chat.push({role: 'assistant', content: text2});
      chatStats(out.stats, s);
    }
    if (stick) log.scrollTop = log.scrollHeight;
    setReady(state.ready);
    if (state.ready) $('chat-input').focus();
  }

  $('chat-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text || !state.ready || state.ctrl) return;
    input.value = '';
    sendChat(text);
  });
  $('chat-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('chat-form').requestSubmit();
    }
  });
  $('chat-stop').addEventListener('click', () => state.ctrl && state.ctrl.abort());
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && state.ctrl) state.ctrl.abort();
  });
  $('chat-new').addEventListener('click', () => {
    if (state.ctrl) state.ctrl.abort();
    state.chat = [];
    log.replaceChildren($('chat-empty'));
    $('chat-empty').hidden = false;
    $('chat-input').focus();
  });

  /* ---- ask ----------------------------------------------------------------------- */

  const enc = new TextEncoder();
  const dec = new TextDecoder();

  function baseName(path) {
    const i = String(path).lastIndexOf('/');
    return i >= 0 ? path.slice(i + 1) : path;
  }

  /* "[2] Catalog › Aurora X2": the document's title and the passage's own heading. */
  function passageName(p) {
    const name = p.title || baseName(p.path);
    const last = p.heading ? String(p.heading).split(' > ').pop() : '';
    return '[' + p.n + '] ' + name + (last && last !== name ? ' › ' + last : '');
  }

  /* The passage, with its span (bytes of its UTF-8 text) in a <mark>. */
  function passageBody(text, span) {
    const div = $('passage-text');
    div.replaceChildren();
    const bytes = enc.encode(text);
    if (!span || !(span.len > 0) || span.off < 0 || span.off + span.len > bytes.length) {
      div.append(text);
      return null;
    }
    const mark = h('mark', {dataset: {testid: 'span'}, text: dec.decode(bytes.subarray(span.off, span.off + span.len))});
    div.append(dec.decode(bytes.subarray(0, span.off)), mark,
               dec.decode(bytes.subarray(span.off + span.len)));
    return mark;
  }

  /* cited: opened from a citation marker (span is then the sentence's: the
   * best evidence window in this passage of its sub-claims, or null when
   * none of them has its best evidence here; see fr_rag_sentence_span). */
  function openPassage(p, span, marker, cited) {
    if (state.lastMarker) state.lastMarker.classList.remove('active');
    state.lastMarker = marker || null;
    if (marker) marker.classList.add('active');
    const panel = $('passage');
    $('passage-title').textContent = passageName(p);
    const meta = $('passage-meta');
    meta.replaceChildren();
    const row = (k, v) => meta.append(h('dt', {text: k}), h('dd', {text: v}));
    row('Document', p.path);
    if (p.page > 0) row('Page', String(p.page));
    row('Bytes', p.byte_off + '–' + (p.byte_off + p.byte_len) + ' (' + p.byte_len + ' bytes)');
    const mark = passageBody(p.text || p.snippet || '', span);
    if (cited) {
      row('Highlighted', mark ? 'the part of this passage that supports the sentence'
                              : 'nothing: no part of the sentence has its best evidence here');
    }
    panel.hidden = false;
    panel.focus({preventScroll: true});
    (mark || panel).scrollIntoView({block: 'nearest'});
  }

  function closePassage() {
    $('passage').hidden = true;
    if (state.lastMarker) {
      state.lastMarker.classList.remove('active');
      state.lastMarker.focus();
    }
  }
  $('passage-close').addEventListener('click', closePassage);
  $('passage').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closePassage();
  });

  /* One sentence: its text with each [n] a button, and its support score. */
  function sentenceNode(s, passages, threshold) {
    const ok = s.score >= threshold;
    const node = h('span', {className: 'sentence ' + (ok ? 'ok' : 'weak')});
    const re = /\s*\[(\d+)\]/g;
    let at = 0;
    let m;
    const body = h('span', {className: 'said'});
    while ((m = re.exec(s.text)) !== null) {
      body.append(s.text.slice(at, m.index));
      at = re.lastIndex;
      const n = Number(m[1]);
      const p = passages.find((x) => x.n === n);
      const cite = (s.citations || []).find((c) => c.n === n);
      const b = h('button', {type: 'button', className: 'cite', dataset: {testid: 'citation', n: String(n)},
                             'aria-label': 'Source ' + n + (p ? ': ' + baseName(p.path) : ''),
                             text: String(n)});
      if (p) b.addEventListener('click', () => openPassage(p, cite && cite.span, b, true));
      else b.disabled = true;
      body.append(b);
    }
    body.append(s.text.slice(at));
    const pct = Math.round(Math.max(0, Math.min(1, s.score)) * 100);
    const bar = h('span', {className: 'bar'});
    bar.style.width = pct + '%';
    const detail = 'support ' + fmtNum(s.score, 2) + (ok ? '' : ' (below ' + threshold + ')') +
                   (s.missing ? ' · not in the passages: ' + s.missing : '');
    node.append(body, ' ', h('span', {className: 'support', title: detail, 'aria-label': detail},
                                h('span', {className: 'meter', 'aria-hidden': 'true'}, bar),
                                h('span', {className: 'score', text: fmtNum(s.score, 2)})));
    return node;
  }

  function reasonOf(j) {
    switch (j.outcome) {
    case 'abstain_retrieval':
      return 'Retrieval found no passage that covers the question' +
             (j.gate && j.gate.missing ? ' (nothing about "' + j.gate.missing + '")' : '') +
             ', so the model was not asked.';
    case 'abstain_not_found':
      return 'The model read the passages and found no answer in them.';
    case 'abstain_low_support':
      return 'The model\'s answer scored ' + fmtNum(j.score, 2) + ', below the ' + j.threshold +
             ' that its citations must support.';
    default:
      return '';
    }
  }

  function renderAsk(j) {
    const ans = $('answer');
    ans.replaceChildren();
    $('passage').hidden = true;
    state.lastMarker = null;
    const passages = j.passages || [];
    const list = () => h('ol', {className: 'closest'}, ...passages.map((p) =>
      h('li', {}, h('button', {type: 'button', className: 'passage-link',
                               on: {click: (ev) => openPassage(p, null, ev.currentTarget, false)}},
                    h('span', {className: 'ref', text: passageName(p)}),
                    h('span', {className: 'snip', text: p.snippet || ''})))));
    if (!j.abstained) {
      const para = h('p', {className: 'sentences'});
      for (const s of j.sentences || []) para.append(sentenceNode(s, passages, j.threshold), ' ');
      ans.append(h('div', {className: 'label', text: 'Answer'}), para,
                 h('p', {className: 'hint', text: 'Each number is a source: open it to see the passage. ' +
                         'The bar after a sentence is how well its sources support it.'}));
    } else {
      const box = h('div', {className: 'abstained', dataset: {testid: 'abstained'}},
                    h('strong', {text: j.answer || 'The documents do not answer this.'}),
                    h('p', {text: reasonOf(j)}));
      if (j.outcome === 'abstain_low_support' && j.model_answer) {
        box.append(h('details', {}, h('summary', {text: 'What the model wrote (not supported)'}),
                     h('p', {className: 'unsupported', text: j.model_answer})));
      }
      ans.append(box);
      if (passages.length) ans.append(h('div', {className: 'label', text: 'Closest passages'}), list());
    }
    const st = $('ask-stats');
    st.replaceChildren();
    const u = j.usage || {};
    const e = j.energy || {};
    const tokens = u.completion_tokens || 0;
    st.append(h('span', {text: [tokens ? tokens + ' tokens generated' : 'no tokens generated',
                                u.prompt_tokens ? u.prompt_tokens + ' prompt tokens' : null,
                                'retrieval ' + fmtSeconds(e.retrieve_seconds),
                                tokens ? 'generation ' + fmtSeconds(e.generate_seconds) : null]
                                .filter(Boolean).join(' · ')}),
              h('span', {className: 'energy', dataset: {testid: 'energy'},
                         text: tokens ? energyParts(u.energy_joules, u.energy_source).join(' · ')
                                      : 'no energy spent on generation'}));
  }

  async function ask(question) {
    state.asking = true;
    setReady(state.ready);
    const ans = $('answer');
    ans.replaceChildren(h('p', {className: 'pending', text: 'Searching the documents and writing an answer…'}));
    $('ask-stats').replaceChildren();
    $('passage').hidden = true;
    const clamp = (id, lo, hi, def) => {
      const v = Number($(id).value);
      return Number.isFinite(v) && $(id).value !== '' ? Math.min(hi, Math.max(lo, v)) : def;
    };
    const body = {question, k: Math.round(clamp('ask-k', 1, 50, 5)),
                  min_support: clamp('ask-min-support', 0.001, 1, 0.6)};
    try {
      const r = await api('/v1/ask', {method: 'POST', body: JSON.stringify(body)});
      renderAsk(await r.json());
    } catch (e) {
      ans.replaceChildren(h('p', {className: 'error', text: 'The question could not be answered: ' + e.message}));
    }
    state.asking = false;
    setReady(state.ready);
  }

  $('ask-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = $('question').value.trim();
    if (q && !state.asking && state.ready) ask(q);
  });

  setReady(false);
  connect();
})();
