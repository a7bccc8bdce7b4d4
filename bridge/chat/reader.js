// The in-page half of the driver: one call, one round trip. Argument: {op, profile, ...}; the answer is JSON text.
//   read     the mounted turns at the transcript's end in chat order: the last `window` (all when null), and back to
//            `lastSeenId` when it is further up (`found`: whether it is mounted); turns in `known` by id
//            and role only, the others described; the page's state flags, and whether the transcript
//            shows its start and its end
//   state    the page's state flags only (plus the last mounted message's id and text digest, and whether
//            the transcript shows its end)
//   scroll   scroll the transcript a page `up`/`down` or to the `top`/`bottom` (a virtualized or lazy
//            history mounts other turns)
//   probe    whether `lastSeenId` is mounted, the first message's id, and what is mounted
//   api      the profile's history endpoint (`url`, its list at `items`) fetched with the page's session, and the
//            ids mounted; the turns of `ids` from `loadUrl`; or, where `lastSeenId` is mounted at the
//            transcript's end, only the mounted turns not in `known`
//   session  the HTTP status of the profile's session check (0: no answer)
//   composer which visible composer candidate matches, its kind and current text
//   send     which visible, enabled send-button candidate matches
//   count    how many elements each selector matches (-1: invalid selector) and how many are visible;
//            how many turns carry an id, a role
async (arg) => {
  const P = arg.profile;
  const M = P.messages;

  const visible = (el) => (el.checkVisibility
    ? el.checkVisibility({ visibilityProperty: true, checkVisibilityCSS: true })
    : el.getClientRects().length > 0);
  const enabled = (el) => !el.disabled && el.getAttribute('aria-disabled') !== 'true';
  const candidates = (cand, root) => [...(root.matches && root.matches(cand) ? [root] : []), ...root.querySelectorAll(cand)];
  const firstOf = (cands, root, accept) => {
    for (let i = 0; i < cands.length; i++) {
      const el = accept ? candidates(cands[i], root).find(accept) : (root.matches && root.matches(cands[i]) ? root : root.querySelector(cands[i]));
      if (el) return { el, index: i };
    }
    return null;
  };
  const hasAny = (cands, root) => cands.some((s) => root.matches(s) || root.querySelector(s));
  const matchesText = (m, el) => !m.text || new RegExp(m.text, 'i').test(el.textContent || '');
  const markerIn = (list, root) => {
    for (const m of list) {
      for (const el of root.querySelectorAll(m.selector)) {
        if (visible(el) && matchesText(m, el)) return el;
      }
    }
    return null;
  };
  const excludeSel = M.exclude.join(',');
  const excludedIn = (el, root) => {
    if (!excludeSel) return false;
    const hit = el.closest(excludeSel);
    return !!hit && root.contains(hit);
  };

  // All page-level markers in one document pass; the first visible hit of each kind is reported.
  // A sign-in page of another origin is logged out by its address.
  const markers = () => {
    const kinds = { streaming: P.streaming, logged_out: P.logged_out, challenge: P.challenge, rate_limited: P.rate_limited };
    const all = [];
    for (const [kind, list] of Object.entries(kinds)) for (const m of list) all.push({ kind, m });
    const watch = window.__devspaceWatch;
    const found = {
      streaming: null, logged_out: null, challenge: null, rate_limited: null, rate_text: null,
      quiet_ms: watch ? Math.max(0, performance.now() - watch.changed) : 0,
    };
    const byUrl = P.logged_out_urls.find((r) => new RegExp(r).test(location.href));
    if (byUrl) found.logged_out = `address ~ ${byUrl}`;
    if (!all.length) return found;
    const hits = document.querySelectorAll(all.map((x) => x.m.selector).join(','));
    for (const el of hits) {
      for (const { kind, m } of all) {
        if (found[kind] || !el.matches(m.selector) || !visible(el) || !matchesText(m, el)) continue;
        found[kind] = m.selector;
        if (kind === 'rate_limited') found.rate_text = el.textContent.replace(/\s+/g, ' ').trim().slice(0, 300);
      }
    }
    return found;
  };

  // The container candidate in use, remembered per document.
  const cache = (window.__devspaceReader = window.__devspaceReader || {});
  const containerSel = () => {
    const key = M.container.join('\u0000');
    if (cache.key === key && cache.sel && document.querySelector(cache.sel)) return cache.sel;
    const hit = M.container.find((s) => document.querySelector(s));
    if (hit) Object.assign(cache, { key, sel: hit });
    return hit || null;
  };

  const idRe = new RegExp(M.id.pattern);
  const idOf = (el) => {
    for (let node = el, depth = 0; node && depth < 6; node = node.parentElement, depth++) {
      const value = node.getAttribute && node.getAttribute(M.id.attribute);
      const m = value && idRe.exec(value);
      if (m) return m[1];
    }
    return null;
  };
  const byId = (id, sel) => {
    const target = M.id.template.replace('{id}', id);
    const el = M.id.attribute === 'id'
      ? document.getElementById(target)
      : document.querySelector(`[${M.id.attribute}="${CSS.escape(target)}"]`);
    if (!el) return null;
    const found = el.matches(sel) ? el : el.closest(sel) || el.querySelector(sel);
    return found && visible(found) ? found : null;
  };
  // The mounted, visible turns in chat order: document order, or on-screen order where rows are moved by transforms.
  const mounted = (sel) => {
    const all = [...document.querySelectorAll(sel)].filter(visible);
    if (M.order !== 'visual') return all;
    const tops = all.map((el) => el.getBoundingClientRect().top);
    return all.map((el, i) => i).sort((a, b) => tops[a] - tops[b] || a - b).map((i) => all[i]);
  };
  const scrollerOf = (sel) => {
    const hit = M.scroller.length && firstOf(M.scroller, document, visible);
    if (hit) return hit.el;
    const first = sel && document.querySelector(sel);
    let box = first && first.parentElement;
    while (box && box !== document.body) {
      const oy = getComputedStyle(box).overflowY;
      if ((oy === 'auto' || oy === 'scroll') && box.scrollHeight > box.clientHeight) return box;
      box = box.parentElement;
    }
    return document.scrollingElement;
  };
  const edges = (sel) => {
    if (!M.virtualized) return { at_start: true, at_end: true };
    const box = scrollerOf(sel);
    return { at_start: box.scrollTop <= 2, at_end: box.scrollHeight - box.scrollTop - box.clientHeight <= 4 };
  };
  const lastContainer = (sel) => {
    const all = document.querySelectorAll(sel);
    return all.length ? all[all.length - 1] : null;
  };

  const roleOf = (el) => (hasAny(M.user, el) ? 'user' : hasAny(M.assistant, el) ? 'assistant' : null);
  const scopeOf = (el) => (M.turn.length ? M.turn.map((s) => el.closest(s)).find(Boolean) || el : el);
  const markdownOf = (el) => firstOf(M.markdown, el, (md) => !excludedIn(md, el))?.el || null;
  const codeSel = M.code_block.join(',');
  const languages = M.code_language.map((c) => ({ ...c, re: new RegExp(c.pattern) }));

  const languageOf = (block, code) => {
    for (const source of languages) {
      const nodes = source.selector ? [block.querySelector(source.selector)].filter(Boolean) : [code, block];
      for (const node of nodes) {
        const value = source.attribute ? node.getAttribute(source.attribute) || '' : node.textContent;
        const m = source.re.exec(value);
        if (m) return m[1];
      }
    }
    return '';
  };
  const codeOf = (block) => {
    const el = (M.code_text.length && firstOf(M.code_text, block)?.el) || block;
    const text = el.textContent.endsWith('\n') ? el.textContent.slice(0, -1) : el.textContent;
    return { text, info: languageOf(block, el) };
  };

  // Rendered text, with each code block re-fenced around its exact code.
  const BLOCK = new Set(['ADDRESS', 'ARTICLE', 'ASIDE', 'BLOCKQUOTE', 'DD', 'DETAILS', 'DIV', 'DL', 'DT', 'FIGCAPTION',
    'FIGURE', 'FOOTER', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HEADER', 'HR', 'LI', 'MAIN', 'NAV', 'OL', 'P', 'PRE',
    'SECTION', 'SUMMARY', 'TABLE', 'TBODY', 'THEAD', 'TFOOT', 'TR', 'UL']);
  const PARAGRAPH = new Set(['BLOCKQUOTE', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HR', 'OL', 'P', 'PRE', 'TABLE', 'UL']);
  const SKIP = new Set(['BUTTON', 'NOSCRIPT', 'SCRIPT', 'STYLE', 'SVG', 'TEMPLATE']);
  const render = (root) => {
    const out = [];
    const codes = [];
    let tail = '\n\n';  // the last two characters written, to place breaks and collapse spaces
    const retail = () => { tail = ('\n\n' + (out[out.length - 2] || '') + (out[out.length - 1] || '')).slice(-2); };
    const put = (s) => { if (s) { out.push(s); retail(); } };
    const trimSpace = () => {
      while (out.length && out[out.length - 1].endsWith(' ')) {
        const cut = out[out.length - 1].replace(/ +$/, '');
        if (cut) out[out.length - 1] = cut; else out.pop();
        retail();
      }
    };
    const brk = (n) => {
      trimSpace();
      if (!out.length) return;
      const have = tail === '\n\n' ? 2 : tail.endsWith('\n') ? 1 : 0;
      put('\n'.repeat(Math.max(0, n - have)));
    };
    const preserve = (el) => /^(pre|break-spaces)/.test(getComputedStyle(el).whiteSpace);
    const walk = (node, keep) => {
      if (node.nodeType === Node.TEXT_NODE) {
        if (keep) return put(node.nodeValue);
        let s = node.nodeValue.replace(/[ \t\n\r\f]+/g, ' ');
        if (tail.endsWith(' ') || tail.endsWith('\n')) s = s.replace(/^ /, '');
        return put(s);
      }
      if (node.nodeType !== Node.ELEMENT_NODE) return;
      const tag = node.tagName.toUpperCase();
      if (SKIP.has(tag) || node.hidden || (excludeSel && node !== root && node.matches(excludeSel))) return;
      if (node !== root && codeSel && node.matches(codeSel)) {
        const code = codeOf(node);
        codes.push(code);
        const longest = Math.max(2, ...(code.text.match(/`+/g) || []).map((r) => r.length));
        const fence = '`'.repeat(longest + 1);
        brk(2);
        put(`${fence}${code.info}\n${code.text}\n${fence}`);
        return brk(2);
      }
      if (tag === 'BR') return put('\n');
      const block = BLOCK.has(tag);
      if (block) brk(PARAGRAPH.has(tag) ? 2 : 1);
      if (tag === 'LI') {
        const list = node.parentElement;
        if (list && list.tagName === 'OL') {
          const start = parseInt(list.getAttribute('start') || '1', 10);
          put(`${start + Array.prototype.indexOf.call(list.children, node)}. `);
        } else put('- ');
      }
      if ((tag === 'TD' || tag === 'TH') && node.previousElementSibling) put('\t');
      const keepHere = keep || tag === 'PRE';
      const from = out.length;
      for (const child of node.childNodes) walk(child, keepHere);
      if (tag === 'BLOCKQUOTE') quote(from);
      if (block) brk(PARAGRAPH.has(tag) ? 2 : 1);
    };
    // A block quote's lines marked as CommonMark writes them (`> `), so a quoted command stays a quote.
    const quote = (from) => {
      trimSpace();
      const body = out.splice(from).join('').replace(/^\n+/, '').replace(/\n+$/, '');
      put(body.split('\n').map((line) => (line ? `> ${line}` : '>')).join('\n'));
    };
    walk(root, preserve(root));
    trimSpace();
    return { text: out.join('').replace(/^\n+/, '').replace(/\n+$/, ''), codes };
  };

  const copyRaw = async (scope) => {
    const btn = M.copy_button.length && (() => {
      for (const s of M.copy_button) {
        for (const b of scope.querySelectorAll(s)) if (!codeSel || !b.closest(codeSel)) return b;
      }
      return null;
    })();
    if (!btn) return { raw: null, copied: 'missing' };
    const nonce = `devspace-${Math.random().toString(36).slice(2)}`;
    await navigator.clipboard.writeText(nonce);
    btn.click();
    const deadline = Date.now() + P.timing.copy_ms;
    while (Date.now() < deadline) {
      const text = await navigator.clipboard.readText();
      if (text !== nonce) return { raw: text, copied: 'ok' };
      await new Promise((r) => setTimeout(r, 20));
    }
    return { raw: null, copied: 'timeout' };
  };

  const errorText = (el) => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('button').forEach((b) => b.remove());
    return copy.textContent.replace(/\s+/g, ' ').trim() || 'error';
  };

  const describe = async (el, isLast, streaming) => {
    const id = idOf(el);
    const role = roleOf(el);
    const scope = scopeOf(el);
    const md = markdownOf(el);
    const errorEl = markerIn(P.error, scope);
    const rendered = md ? render(md) : { text: '', codes: [] };
    const msg = {
      id, role, text: rendered.text, code_blocks: rendered.codes, has_markdown: !!md,
      error: errorEl ? errorText(errorEl) : null,
      finished: !M.finished.length || !!firstOf(M.finished, scope),
      raw: null, copied: null,
    };
    if (arg.copy && md && !errorEl && !(isLast && streaming)) Object.assign(msg, await copyRaw(scope));
    return msg;
  };

  const digest = (s) => {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
    return `${s.length}:${h}`;
  };

  const composerIndex = () => firstOf(P.composer.selectors, document, visible)?.index ?? null;
  const inOrder = (sel) => (M.order === 'visual' ? mounted(sel) : null);
  const lastTurn = (sel) => {
    const list = inOrder(sel);
    return list ? list[list.length - 1] || null : lastContainer(sel);
  };
  const firstTurn = (sel) => {
    const list = inOrder(sel);
    return list ? list[0] || null : document.querySelector(sel);
  };
  const tailDigest = (el) => {
    const md = el && markdownOf(el);
    return el ? digest(md ? md.textContent : '') : null;
  };
  // What is mounted, so a caller can tell whether the page changed: ids in order and the last turn's text.
  const signature = (sel) => {
    const list = sel ? mounted(sel) : [];
    return `${list.map(idOf).join(',')}|${tailDigest(list[list.length - 1])}`;
  };
  const pick = (obj, path) => path.split('.').reduce((v, k) => (v !== null && typeof v === 'object' ? v[k] : undefined), obj);
  const str = (v) => (v === undefined || v === null ? null : String(v));

  // The answer travels as one JSON string: far faster than Playwright's value serialization for big results.
  const answer = async () => {
    switch (arg.op) {
      case 'count': {
        const tally = (s) => {
          try {
            const all = [...document.querySelectorAll(s)];
            return [all.length, all.filter(visible).length];
          } catch (e) {
            return [-1, -1];
          }
        };
        const tallies = arg.selectors.map(tally);
        const counts = tallies.map((t) => t[0]);
        const shown = tallies.map((t) => t[1]);
        try {
          const sel = containerSel();
          const turns = sel ? mounted(sel) : [];
          const roles = turns.map(roleOf);
          return {
            counts, shown, turns: turns.length,
            ids: turns.filter((el) => idOf(el) !== null).length,
            user: roles.filter((r) => r === 'user').length,
            assistant: roles.filter((r) => r === 'assistant').length,
            markdown: turns.filter((el) => markdownOf(el)).length,
            url: location.href,
          };
        } catch (e) {  // an invalid container or role selector: the counts above say which
          return { counts, shown, turns: 0, ids: 0, user: 0, assistant: 0, markdown: 0, url: location.href };
        }
      }
      case 'composer': {
        const hit = firstOf(P.composer.selectors, document, visible);
        if (!hit) return null;
        const isTextarea = hit.el.tagName === 'TEXTAREA' || hit.el.tagName === 'INPUT';
        const kind = P.composer.kind === 'auto' ? (isTextarea ? 'textarea' : 'contenteditable') : P.composer.kind;
        // the n-th visible match of the candidate, so the caller's locator finds the same element
        const nth = candidates(P.composer.selectors[hit.index], document).filter(visible).indexOf(hit.el);
        return { index: hit.index, nth, kind, text: isTextarea ? hit.el.value : hit.el.innerText };
      }
      case 'send': {
        const hit = firstOf(P.send, document, (el) => visible(el) && enabled(el));
        if (!hit) return null;
        return { index: hit.index, nth: candidates(P.send[hit.index], document).filter(visible).indexOf(hit.el) };
      }
      case 'probe': {
        const sel = containerSel();
        const first = sel && firstTurn(sel);
        let found = false;
        if (sel && arg.lastSeenId) {
          const list = inOrder(sel);
          found = list ? list.some((el) => idOf(el) === arg.lastSeenId) : !!byId(arg.lastSeenId, sel);
        }
        return { found, first_id: first ? idOf(first) : null, signature: signature(sel), ...edges(sel) };
      }
      case 'scroll': {
        const sel = containerSel();
        if (!sel) return null;
        const box = scrollerOf(sel);
        const before = box.scrollTop;
        const step = Math.max(40, Math.floor(box.clientHeight * 0.9));
        if (arg.direction === 'up') box.scrollTop = Math.max(0, before - step);
        else if (arg.direction === 'down') box.scrollTop = before + step;
        else if (arg.direction === 'top') box.scrollTop = 0;
        else box.scrollTop = box.scrollHeight;
        (box === document.scrollingElement ? window : box).dispatchEvent(new Event('scroll'));
        return { moved: box.scrollTop !== before, signature: signature(sel), ...edges(sel) };
      }
      case 'state': {
        const sel = containerSel();
        const last = sel && lastTurn(sel);
        return {
          ...markers(), composer: composerIndex(), turns: !!last, ...(sel ? edges(sel) : { at_start: true, at_end: true }),
          tail_id: last ? idOf(last) : null, tail_digest: last ? tailDigest(last) : null,
        };
      }
      case 'api': {
        const A = P.api;
        const flags = markers();
        const sel = containerSel();
        const sig = `${signature(sel)}|${!!flags.streaming}`;
        const result = { ...flags, signature: sig, unchanged: false, status: 0, error: null, items: null, mounted: [], errors: {}, incremental: null };
        if (flags.challenge || flags.logged_out) return result;
        if (arg.signature === sig) return { ...result, unchanged: true };
        const list = sel ? mounted(sel) : [];
        result.mounted = list.map(idOf).filter(Boolean);
        for (const el of list) {
          const bubble = markerIn(P.error, scopeOf(el));
          if (bubble && idOf(el)) result.errors[idOf(el)] = errorText(bubble);
        }
        let url = arg.url;
        let init = { credentials: 'include', headers: { accept: 'application/json' } };
        const load = (ids) => {
          url = arg.loadUrl;
          init = { ...init, method: 'POST', headers: { ...init.headers, 'content-type': 'application/json' }, body: JSON.stringify({ [A.load_ids]: ids }) };
        };
        const at = arg.loadUrl && arg.lastSeenId ? result.mounted.indexOf(arg.lastSeenId) : -1;
        if (arg.loadUrl && arg.ids) {  // the turns of these ids
          if (!arg.ids.length) return { ...result, status: 200, items: [] };
          load(arg.ids);
        } else if (at >= 0 && edges(sel).at_end) {  // only the mounted turns not known yet, by id, wherever they show
          const known = new Set(arg.known || []);
          result.incremental = result.mounted.filter((id) => !known.has(id));
          if (!result.incremental.length) return { ...result, status: 200, items: [] };
          load(result.incremental);
        }
        try {
          const response = await fetch(url, init);
          result.status = response.status;
          if (!response.ok) return result;
          const at = (url === arg.url && arg.items) || A.items;  // `items` names the list of `url`'s answer only
          const items = pick(await response.json(), at);
          if (!Array.isArray(items)) return { ...result, error: `the answer has no list at '${at}'` };
          result.items = items.map((x) => ({
            id: str(pick(x, A.id)), parent: str(pick(x, A.parent)), role: str(pick(x, A.role)) || '',
            text: str(pick(x, A.text)) || '', created: str(pick(x, A.created)) || '',
            partial: !!(A.partial && pick(x, A.partial)), hidden: !!(A.hidden && pick(x, A.hidden)),
          }));
        } catch (e) {
          result.error = String(e);
        }
        return result;
      }
      case 'session':
        return { status: await fetch(P.session, { credentials: 'include' }).then((r) => r.status, () => 0) };
      case 'read': {
        const flags = markers();
        const result = { ...flags, empty: false, composer: null, found: true, first_id: null, at_start: true, at_end: true, messages: [] };
        if (flags.challenge || flags.logged_out) return result;
        const sel = containerSel();
        if (!sel) return { ...result, empty: true, found: !arg.lastSeenId, composer: composerIndex() };
        Object.assign(result, edges(sel));
        // every container in chat order (visibility is checked on the window only: the work is the window's)
        const all = inOrder(sel) || [...document.querySelectorAll(sel)];
        let at = -1;
        if (arg.lastSeenId) {
          const seen = M.order === 'visual' ? all.find((el) => idOf(el) === arg.lastSeenId) : byId(arg.lastSeenId, sel);
          at = seen ? all.indexOf(seen) : -1;
          if (at < 0) {
            const first = all.find(visible);
            return { ...result, found: false, first_id: first ? idOf(first) : null };
          }
        }
        const from = arg.window == null ? 0 : Math.max(0, Math.min(at < 0 ? all.length : at, all.length - arg.window));
        const list = all.slice(from).filter(visible);
        const known = new Set(arg.known || []);
        for (let i = 0; i < list.length; i++) {
          const id = idOf(list[i]);
          if (id !== null && known.has(id)) result.messages.push({ id, role: roleOf(list[i]), text: '', has_markdown: true, known: true });
          else result.messages.push(await describe(list[i], i === list.length - 1, !!flags.streaming));
        }
        return result;
      }
      default:
        throw new Error(`unknown op ${arg.op}`);
    }
  };
  return JSON.stringify(await answer());
}
