/* Settlement on the phone: the repair items (from the catalog cached in IndexedDB by each pull) picked on a visit,
 * and the visits a manager returned for correction, corrected and resubmitted offline as two queued ops
 * (visit_items, then resubmit) that the outbox replays in order. */
(function (FS) {
  'use strict';

  const t = FS.t;
  const DONE_KEY = 'resubmitted_visits';

  function catalogFor(items, job) {
    const category = job && (job.service_category || (job.product && job.product.category));
    return (items || []).filter((item) => !category || item.category === category);
  }

  function itemName(item) {
    return FS.i18n.lang === 'en' ? item.name_en : item.name_zh;
  }

  function itemLine(line, i, catalog, esc) {
    return `<div class="line item" data-item="${i}">
      <select name="repair_item_id" aria-label="${esc(t('repair_items'))}">${catalog.map((item) =>
        `<option value="${item.id}" ${String(line.repair_item_id) === String(item.id) ? 'selected' : ''}>${esc(item.code + ' ' + itemName(item))} (${esc(item.standard_hours)})</option>`).join('')}</select>
      <input name="quantity" type="number" min="1" max="100" step="1" value="${esc(line.quantity || 1)}" aria-label="${esc(t('qty'))}">
      <button type="button" data-remove-item="${i}">✕</button>
    </div>`;
  }

  /* The items usually done for *faultId* (from the cached suggestions), in the catalog and not yet on the visit. */
  function suggestionsFor(suggestions, faultId, catalog, lines) {
    const found = (suggestions || []).find((s) => String(s.fault_id) === String(faultId));
    if (!found) return [];
    const chosen = new Set((lines || []).map((l) => String(l.repair_item_id)));
    const byId = new Map((catalog || []).map((item) => [String(item.id), item]));
    return found.repair_item_ids.map((id) => byId.get(String(id))).filter((item) => item && !chosen.has(String(item.id)));
  }

  function suggestionButtons(items, esc) {
    if (!items.length) return '';
    return `<p class="muted">${esc(t('suggested_items'))}</p>` + items.map((item) =>
      `<button type="button" data-suggest-item="${item.id}">＋ ${esc(item.code + ' ' + itemName(item))}</button>`).join(' ');
  }

  function itemsPayload(lines) {
    return (lines || []).map((l) => ({ repair_item_id: Number(l.repair_item_id), quantity: Number(l.quantity) || 1 }));
  }

  /* The returned visits the last pull brought, less those resubmitted on this phone since. */
  async function returned() {
    const all = await FS.store.getReference('returned_visits');
    const done = (await FS.store.getMeta(DONE_KEY)) || {};
    return (all || []).filter((r) => done[r.verification_id] !== r.version);
  }

  async function returnedLink(esc) {
    const list = await returned();
    if (!list.length) return '';
    return `<a class="button warn" id="open-returned" href="#/returned">${esc(t('returned_visits', { n: list.length }))}</a>`;
  }

  async function render(view, helpers) {
    const { esc, syncNow } = helpers;
    const list = await returned();
    const catalog = await FS.store.getReference('repair_items');
    let html = `<p><a href="#/jobs">‹ ${esc(t('back'))}</a></p><h2>${esc(t('returned_title'))}</h2>`;
    if (!list.length) html += `<p class="muted" id="no-returned">${esc(t('no_returned'))}</p>`;
    for (const r of list) {
      html += `<form class="card returned" data-verification="${r.verification_id}">
        <h3>${esc(r.number)}</h3>
        <p class="error">${esc(t('returned_reason', { reason: r.reason || '' }))}</p>
        <p class="muted">${esc(t('labour_hours'))}: ${esc(r.labour_hours)}</p>
        <label>${esc(t('repair_items'))}</label>
        <div class="items">${r.items.map((line, i) => itemLine(line, i, catalog, esc)).join('')}</div>
        <button type="button" data-add-item>${esc(t('add_item'))}</button>
        <div class="actions"><button class="primary" type="submit" data-resubmit="${r.visit_id}">${esc(t('resubmit'))}</button></div>
      </form>`;
    }
    if (!location.hash.startsWith('#/returned')) return; // left while the list was read
    view.innerHTML = html;
    view.querySelectorAll('form.returned').forEach((form) => {
      const entry = list.find((r) => String(r.verification_id) === form.dataset.verification);
      const read = () => Array.from(form.querySelectorAll('[data-item]')).map((row) => ({
        repair_item_id: row.querySelector('[name="repair_item_id"]').value,
        quantity: row.querySelector('[name="quantity"]').value,
      }));
      const redraw = () => {
        form.querySelector('.items').innerHTML = entry.items.map((line, i) => itemLine(line, i, catalog, esc)).join('');
        form.querySelectorAll('[data-remove-item]').forEach((b) => b.addEventListener('click', () => {
          entry.items = read();
          entry.items.splice(Number(b.dataset.removeItem), 1);
          redraw();
        }));
      };
      redraw();
      form.querySelector('[data-add-item]').addEventListener('click', () => {
        entry.items = read();
        if (catalog.length) entry.items.push({ repair_item_id: catalog[0].id, quantity: 1 });
        redraw();
      });
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const items = itemsPayload(read());
        await FS.outbox.enqueue('visit_items', entry.request_id, { visit_id: entry.visit_id, items });
        await FS.outbox.enqueue('resubmit', entry.request_id, { visit_id: entry.visit_id, version: entry.version });
        const done = (await FS.store.getMeta(DONE_KEY)) || {};
        done[entry.verification_id] = entry.version;
        await FS.store.setMeta(DONE_KEY, done);
        form.outerHTML = `<p class="card muted">${esc(entry.number)} · ${esc(t('resubmitted'))}</p>`;
        syncNow();
      });
    });
  }

  /* The engineer's latest statements, from the copy the last pull kept: readable with no signal. */
  async function renderStatements(view, helpers) {
    const { esc } = helpers;
    const list = (await FS.store.getReference('statements')) || [];
    let html = `<p><a href="#/jobs">‹ ${esc(t('back'))}</a></p><h2>${esc(t('my_statements'))}</h2>`;
    if (!list.length) html += `<p class="muted" id="no-statements">${esc(t('no_statements'))}</p>`;
    for (const s of list) {
      html += `<div class="card statement" data-statement="${s.id}">
        <h3>${esc(s.period)} · ${esc(t('statement_' + s.status))}${s.number ? ' · ' + esc(s.number) : ''}</h3>
        <p>${esc(t('statement_visits', { n: s.visits }))} · ${esc(t('statement_hours', { standard: s.standard_hours, actual: s.actual_hours }))}</p>
        <p>${esc(t('statement_amounts', { labour: s.labour_amount, parts: s.parts_amount, costs: s.costs_amount, adjustments: s.adjustments_amount }))}</p>
        <p><strong>${esc(t('statement_total', { total: s.total }))}</strong></p>
      </div>`;
    }
    if (!location.hash.startsWith('#/statements')) return;
    view.innerHTML = html;
  }

  FS.settle = { catalogFor, itemLine, itemsPayload, returned, returnedLink, render, renderStatements, suggestionsFor, suggestionButtons };
})(self.FS = self.FS || {});
