// Reports DOM changes to the driver through exposed bindings: at once for the first change, then at
// most once per 100 ms while changes keep coming. Remembers when the DOM last changed, so the driver
// can tell how long the page has stood still. Installed on every document (init script) and once on
// the current one; idempotent.
(name) => {
  const watch = (window.__devspaceWatch = window.__devspaceWatch || { names: new Set(), timer: 0, observer: null, changed: performance.now() });
  watch.names.add(name);
  if (watch.observer) return;
  const notify = () => {
    for (const n of watch.names) {
      if (typeof window[n] === 'function') window[n]().catch(() => {});
    }
  };
  let missed = false;
  const quietEnd = () => {
    watch.timer = 0;
    if (missed) {
      missed = false;
      notify();
      watch.timer = setTimeout(quietEnd, 100);
    }
  };
  watch.observer = new MutationObserver(() => {
    watch.changed = performance.now();
    if (watch.timer) {
      missed = true;
      return;
    }
    notify();
    watch.timer = setTimeout(quietEnd, 100);
  });
  watch.observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['hidden'] });
}
