// Entry point: tabs, the footer version, and the two views.

import { setupInspect } from './inspect.js';
import { setupExplore } from './explore.js';
import { wasm } from './wasm.js';

function setupTabs() {
  const tabs = document.querySelectorAll('.tabs [data-view]');
  const show = (name) => {
    for (const tab of tabs) {
      const on = tab.dataset.view === name;
      tab.setAttribute('aria-selected', String(on));
      document.getElementById(`view-${tab.dataset.view}`).hidden = !on;
    }
  };
  for (const tab of tabs) tab.addEventListener('click', () => show(tab.dataset.view));
  if (location.hash === '#explore') show('explore');
}

setupTabs();
setupInspect(document.getElementById('view-inspect'));
setupExplore(document.getElementById('view-explore'));
wasm()
  .then((w) => {
    document.querySelector('[data-testid="version"]').textContent = `v${w.version()}`;
    document.body.dataset.wasm = 'ready';
  })
  .catch((e) => {
    document.body.dataset.wasm = 'failed';
    const error = document.querySelector('[data-testid="inspect-error"]');
    error.textContent = `The WebAssembly module did not load: ${e.message || e}`;
    error.hidden = false;
  });
