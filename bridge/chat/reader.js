// The in-page half of the driver: one call, one round trip. Argument: {op, profile, ...}.
//   read     messages after `lastSeenId` (all when null), the page's state flags
//   state    the page's state flags only (plus the last message's id and text digest)
//   scroll   scroll the message list to its top so a virtualized history loads older turns
//   probe    whether `lastSeenId` is on the page, and the first message's id
//   composer which composer candidate matches, its kind and current text
//   send     which send-button candidate matches
//   count    how many elements each selector matches (-1: invalid selector); how many turns carry an id, a role
async (arg) => {
  const P = arg.profile;
  const M = P.messages;

  const visible = (el) => (el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0);
  const firstOf = (cands, root) => {
    for (let i = 0; i < cands.length; i++) {
      const el = root.matches && root.matches(cands[i]) ? root : root.querySelector(cands[i]);
      if (el) return { el, index: i };
    }
    return null;
  };
  const hasAny = (cands, root) => cands.some((s) => root.matches(s) || root.querySelector(s));
  const markerIn = (list, root) => {
    for (const m of list) {
      for (const el of root.querySelectorAll(m.selector)) {
        if (visible(el) && (!m.text || new RegExp(m.text).test(el.textContent || ''))) return el;
      }
    }
    return null;
  };

  // All page-level markers in one document pass; the first visible hit of each kind is reported.
  const markers = () => {
    const kinds = { streaming: P.streaming, logged_out: P.logged_out, challenge: P.challenge };
    const all = [];
    for (const [kind, list] of Object.entries(kinds)) for (const m of list) all.push({ kind, m });
    const watch = window.__devspaceWatch;
    const found = { streaming: null, logged_out: null, challenge: null, quiet_ms: watch ? Math.max(0, performance.now() - watch.changed) : 0 };
    if (!all.length) return found;
    const hits = document.querySelectorAll(all.map((x) => x.m.selector).join(','));
    for (const el of hits) {
      for (const { kind, m } of all) {
        if (found[kind] || !el.matches(m.selector) || !visible(el)) continue;
        if (m.text && !new RegExp(m.text).test(el.textContent || '')) continue;
        found[kind] = m.selector;
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
    return el.matches(sel) ? el : el.closest(sel) || el.querySelector(sel);
  };
  // Every container after `node` in document order, without visiting what comes before it.
  const following = (node, sel) => {
    const out = [];
    for (let cur = node; cur && cur !== document.documentElement; cur = cur.parentElement) {
      for (let sib = cur.nextElementSibling; sib; sib = sib.nextElementSibling) {
        if (sib.matches(sel)) out.push(sib);
        else out.push(...sib.querySelectorAll(sel));
      }
    }
    return out;
  };
  const lastContainer = (sel) => {
    const all = document.querySelectorAll(sel);
    return all.length ? all[all.length - 1] : null;
  };

  const roleOf = (el) => (hasAny(M.user, el) ? 'user' : hasAny(M.assistant, el) ? 'assistant' : null);
  const scopeOf = (el) => (M.turn.length ? M.turn.map((s) => el.closest(s)).find(Boolean) || el : el);
  const codeSel = M.code_block.join(',');
  const langRe = new RegExp(M.code_language.pattern);

  const codeOf = (block) => {
    const el = (M.code_text.length && firstOf(M.code_text, block)?.el) || block;
    const text = el.textContent.endsWith('\n') ? el.textContent.slice(0, -1) : el.textContent;
    let info = '';
    for (const node of [el, block]) {
      const m = langRe.exec(node.getAttribute(M.code_language.attribute) || '');
      if (m) { info = m[1]; break; }
    }
    return { text, info };
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
      if (SKIP.has(tag) || node.hidden) return;
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
      for (const child of node.childNodes) walk(child, keepHere);
      if (block) brk(PARAGRAPH.has(tag) ? 2 : 1);
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
    const md = firstOf(M.markdown, el)?.el || null;
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

  const composerIndex = () => firstOf(P.composer.selectors, document)?.index ?? null;

  switch (arg.op) {
    case 'count': {
      const counts = arg.selectors.map((s) => { try { return document.querySelectorAll(s).length; } catch (e) { return -1; } });
      try {
        const sel = containerSel();
        const turns = sel ? [...document.querySelectorAll(sel)] : [];
        const roles = turns.map(roleOf);
        return {
          counts,
          ids: turns.filter((el) => idOf(el) !== null).length,
          user: roles.filter((r) => r === 'user').length,
          assistant: roles.filter((r) => r === 'assistant').length,
        };
      } catch (e) {  // an invalid container or role selector: the counts above say which
        return { counts, ids: 0, user: 0, assistant: 0 };
      }
    }
    case 'composer': {
      const hit = firstOf(P.composer.selectors, document);
      if (!hit) return null;
      const isTextarea = hit.el.tagName === 'TEXTAREA' || hit.el.tagName === 'INPUT';
      const kind = P.composer.kind === 'auto' ? (isTextarea ? 'textarea' : 'contenteditable') : P.composer.kind;
      return { index: hit.index, kind, text: isTextarea ? hit.el.value : hit.el.innerText };
    }
    case 'send': {
      const hit = firstOf(P.send, document);
      return hit ? hit.index : null;
    }
    case 'probe': {
      const sel = containerSel();
      const first = sel && document.querySelector(sel);
      return { found: !!(sel && arg.lastSeenId && byId(arg.lastSeenId, sel)), first_id: first ? idOf(first) : null };
    }
    case 'scroll': {
      const sel = containerSel();
      const first = sel && document.querySelector(sel);
      if (!first) return null;
      let box = first.parentElement;
      while (box && box !== document.body) {
        const oy = getComputedStyle(box).overflowY;
        if ((oy === 'auto' || oy === 'scroll') && box.scrollHeight > box.clientHeight) break;
        box = box.parentElement;
      }
      const target = box && box !== document.body ? box : document.scrollingElement;
      target.scrollTop = 0;
      (target === document.scrollingElement ? window : target).dispatchEvent(new Event('scroll'));
      return idOf(first);
    }
    case 'state': {
      const sel = containerSel();
      const last = sel && lastContainer(sel);
      const md = last && firstOf(M.markdown, last)?.el;
      return { ...markers(), composer: composerIndex(), tail_id: last ? idOf(last) : null, tail_digest: last ? digest(md ? md.textContent : '') : null };
    }
    case 'read': {
      const flags = markers();
      const result = { ...flags, empty: false, composer: null, found: true, first_id: null, messages: [] };
      if (flags.challenge || flags.logged_out) return result;
      const sel = containerSel();
      if (!sel) return { ...result, empty: true, found: !arg.lastSeenId, composer: composerIndex() };
      let list;
      if (arg.lastSeenId) {
        const seen = byId(arg.lastSeenId, sel);
        if (!seen) {
          const first = document.querySelector(sel);
          return { ...result, found: false, first_id: first ? idOf(first) : null };
        }
        list = following(seen, sel);
      } else {
        list = [...document.querySelectorAll(sel)];
      }
      for (let i = 0; i < list.length; i++) {
        result.messages.push(await describe(list[i], i === list.length - 1, !!flags.streaming));
      }
      return result;
    }
    default:
      throw new Error(`unknown op ${arg.op}`);
  }
}
