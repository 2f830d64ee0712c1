/* The visit form: diagnosis, repair, hours, parts from the van, costs, photos, the customer's signature, outcome.
 * Every change is saved as a draft in IndexedDB at once (photos and signature as data-URLs, drawn back into the
 * form), so a killed app or a reload loses nothing; submitting turns the draft into one record_visit op and its
 * photos and signature into blobs, in the same transaction that deletes the draft. The outbox uploads the blobs in
 * chunks that resume after a dropped connection, then sends the op, which names them by id (photo_ids,
 * signature_id): a weak signal never has to carry the whole visit in one request. */
(function (FS) {
  'use strict';

  const t = FS.t;
  const COST_KINDS = ['travel', 'fee', 'other'];

  function localInput(iso) {
    const d = iso ? new Date(iso) : new Date();
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function toIso(local) {
    return new Date(local).toISOString();
  }

  async function loadDraft(job) {
    const draft = await FS.store.getDraft(job.id);
    if (draft) return draft;
    const ops = await FS.store.opsForRequest(job.id);
    const arrive = ops.find((op) => op.type === 'arrive' && op.status !== 'rejected');
    return {
      request_id: job.id,
      arrived_at: localInput((arrive && arrive.client_time) || (job.progress && job.progress.arrived_at)),
      finished_at: '',
      labour_hours: '',
      fault_id: '',
      fault: '',
      cause: '',
      solution: '',
      parts: [],
      items: [],
      costs: [],
      photos: [],
      signature: null,
      outcome: 'resolved',
    };
  }

  function faultOptions(job, knowledge, esc, selected) {
    const seen = new Set();
    const entries = [];
    for (const entry of (job.knowledge || []).concat(knowledge)) {
      if (seen.has(entry.id)) continue;
      seen.add(entry.id);
      entries.push(entry);
    }
    return `<option value="">—</option>` + entries.map((e) =>
      `<option value="${e.id}" ${String(selected) === String(e.id) ? 'selected' : ''}>${esc((e.fault_code ? e.fault_code + ' ' : '') + e.symptom)}</option>`).join('');
  }

  function partLine(line, i, stock, esc) {
    return `<div class="line part" data-part="${i}">
      <select name="part_id" aria-label="${esc(t('parts'))}">${stock.map((s) =>
        `<option value="${s.part_id}" ${String(line.part_id) === String(s.part_id) ? 'selected' : ''}>${esc(s.part_number + ' ' + s.name)} (${s.qty})</option>`).join('')}</select>
      <input name="qty" type="number" min="1" step="1" value="${esc(line.qty || 1)}" aria-label="${esc(t('qty'))}">
      <div class="serials">
        <input name="old_serial" placeholder="${esc(t('old_serial'))}" value="${esc(line.old_serial || '')}">
        <input name="new_serial" placeholder="${esc(t('new_serial'))}" value="${esc(line.new_serial || '')}">
      </div>
      <button type="button" data-remove-part="${i}">${esc(t('remove'))}</button>
    </div>`;
  }

  function costLine(line, i, esc) {
    return `<div class="line" data-cost="${i}">
      <select name="kind">${COST_KINDS.map((k) => `<option value="${k}" ${line.kind === k ? 'selected' : ''}>${esc(t('cost_' + k))}</option>`).join('')}</select>
      <input name="amount" type="number" min="0" step="0.01" value="${esc(line.amount)}" aria-label="${esc(t('amount'))}">
      <button type="button" data-remove-cost="${i}">✕</button>
    </div>`;
  }

  async function render(view, requestId, helpers) {
    const { esc, syncNow } = helpers;
    const job = await FS.store.getJob(requestId);
    if (!job) {
      location.hash = '#/jobs';
      return;
    }
    const draft = await loadDraft(job);
    draft.items = draft.items || [];
    const stock = await FS.store.getReference('van_stock');
    const catalog = FS.settle.catalogFor(await FS.store.getReference('repair_items'), job);
    const knowledge = await FS.store.getReference('knowledge');
    const suggestions = await FS.store.getReference('repair_item_suggestions');
    if (location.hash !== '#/visit/' + requestId) return; // left while the form's data was read

    view.innerHTML = `
      <p><a href="#/job/${job.id}">‹ ${esc(t('back'))}</a></p>
      <form class="card" id="visit-form" novalidate>
        <h2>${esc(t('visit'))} · ${esc(job.number)}</h2>
        <p class="muted" id="draft-state"></p>
        <label for="arrived_at">${esc(t('arrived_at'))}</label>
        <input id="arrived_at" name="arrived_at" type="datetime-local" value="${esc(draft.arrived_at)}" required>
        <label for="labour_hours">${esc(t('labour_hours'))}</label>
        <input id="labour_hours" name="labour_hours" type="number" min="0" max="1000" step="0.25" inputmode="decimal" value="${esc(draft.labour_hours)}" required>
        <label for="fault_id">${esc(t('fault_from_kb'))}</label>
        <select id="fault_id" name="fault_id">${faultOptions(job, knowledge, esc, draft.fault_id)}</select>
        <label for="fault">${esc(t('fault_free'))}</label>
        <input id="fault" name="fault" value="${esc(draft.fault)}">
        <label for="cause">${esc(t('cause'))}</label>
        <textarea id="cause" name="cause">${esc(draft.cause)}</textarea>
        <label for="solution">${esc(t('solution'))}</label>
        <textarea id="solution" name="solution">${esc(draft.solution)}</textarea>

        <label>${esc(t('repair_items'))}</label>
        <div id="items">${draft.items.map((line, i) => FS.settle.itemLine(line, i, catalog, esc)).join('')}</div>
        <div id="suggested-items">${FS.settle.suggestionButtons(FS.settle.suggestionsFor(suggestions, draft.fault_id, catalog, draft.items), esc)}</div>
        ${catalog.length ? `<button type="button" id="add-item">${esc(t('add_item'))}</button>` : `<p class="muted">${esc(t('no_repair_items'))}</p>`}

        <label>${esc(t('parts'))}</label>
        <div id="parts">${draft.parts.map((line, i) => partLine(line, i, stock, esc)).join('')}</div>
        ${stock.length ? `<button type="button" id="add-part">${esc(t('add_part'))}</button>` : `<p class="muted">${esc(t('no_van_stock'))}</p>`}

        <label>${esc(t('costs'))}</label>
        <div id="costs">${draft.costs.map((line, i) => costLine(line, i, esc)).join('')}</div>
        <button type="button" id="add-cost">${esc(t('add_cost'))}</button>

        <label for="photo-input">${esc(t('photos'))}</label>
        <div class="thumbs" id="thumbs">${draft.photos.map((src, i) => `<figure><img src="${src}" alt=""><button type="button" data-remove-photo="${i}">✕</button></figure>`).join('')}</div>
        <input id="photo-input" type="file" accept="image/*" capture="environment" multiple>

        <label>${esc(t('signature'))}</label>
        <canvas class="sig" id="signature"></canvas>
        <button type="button" id="clear-signature">${esc(t('clear'))}</button>

        <label>${esc(t('outcome'))}</label>
        <div class="row">
          <label><input type="radio" name="outcome" value="resolved" ${draft.outcome === 'resolved' ? 'checked' : ''} class="inline-choice"> ${esc(t('outcome_resolved'))}</label>
          <label><input type="radio" name="outcome" value="unresolved" ${draft.outcome === 'unresolved' ? 'checked' : ''} class="inline-choice"> ${esc(t('outcome_unresolved'))}</label>
        </div>
        <p class="error" id="form-error"></p>
        <div class="actions"><button class="primary" type="submit" id="submit-visit">${esc(t('save_visit'))}</button></div>
      </form>`;

    const form = document.getElementById('visit-form');
    const canvas = document.getElementById('signature');
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext('2d').scale(ratio, ratio);
    const pad = new SignaturePad(canvas, { backgroundColor: 'rgb(255,255,255)' });
    if (draft.signature) {
      pad.fromDataURL(draft.signature, { ratio, width: canvas.offsetWidth, height: canvas.offsetHeight });
    }

    function readLines(selector, names) {
      return Array.from(form.querySelectorAll(selector)).map((row) => {
        const line = {};
        for (const name of names) line[name] = row.querySelector(`[name="${name}"]`).value;
        return line;
      });
    }

    function collect() {
      draft.arrived_at = form.arrived_at.value;
      draft.labour_hours = form.labour_hours.value;
      draft.fault_id = form.fault_id.value;
      draft.fault = form.fault.value;
      draft.cause = form.cause.value;
      draft.solution = form.solution.value;
      draft.parts = readLines('[data-part]', ['part_id', 'qty', 'old_serial', 'new_serial']);
      draft.items = readLines('[data-item]', ['repair_item_id', 'quantity']);
      draft.costs = readLines('[data-cost]', ['kind', 'amount']);
      draft.outcome = form.querySelector('[name="outcome"]:checked').value;
      draft.signature = pad.isEmpty() ? null : pad.toDataURL('image/png');
    }

    async function save() {
      collect();
      await FS.store.putDraft(draft);
      document.getElementById('draft-state').textContent = t('draft_saved', { time: helpers.fmt(draft.saved_at) });
    }

    async function redraw() {
      await save();
      render(view, requestId, helpers);
    }

    form.addEventListener('input', save);
    form.addEventListener('change', save);
    pad.addEventListener('endStroke', save);
    document.getElementById('clear-signature').addEventListener('click', () => { pad.clear(); save(); });
    const addPart = document.getElementById('add-part');
    if (addPart) addPart.addEventListener('click', () => {
      collect();
      draft.parts.push({ part_id: stock[0].part_id, qty: 1 });
      FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
    });
    const addItem = document.getElementById('add-item');
    if (addItem) addItem.addEventListener('click', () => {
      collect();
      draft.items.push({ repair_item_id: catalog[0].id, quantity: 1 });
      FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
    });
    // The fault chosen from the knowledge base suggests its usual repair items (one tap adds one).
    function bindSuggestions() {
      document.querySelectorAll('[data-suggest-item]').forEach((b) => b.addEventListener('click', () => {
        collect();
        draft.items.push({ repair_item_id: Number(b.dataset.suggestItem), quantity: 1 });
        FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
      }));
    }
    bindSuggestions();
    form.fault_id.addEventListener('change', () => {
      collect();
      document.getElementById('suggested-items').innerHTML = FS.settle.suggestionButtons(
        FS.settle.suggestionsFor(suggestions, draft.fault_id, catalog, draft.items), esc);
      bindSuggestions();
    });
    form.querySelectorAll('[data-remove-item]').forEach((b) => b.addEventListener('click', () => {
      collect();
      draft.items.splice(Number(b.dataset.removeItem), 1);
      FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
    }));
    document.getElementById('add-cost').addEventListener('click', () => {
      collect();
      draft.costs.push({ kind: 'travel', amount: '' });
      FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
    });
    form.querySelectorAll('[data-remove-part]').forEach((b) => b.addEventListener('click', () => {
      collect();
      draft.parts.splice(Number(b.dataset.removePart), 1);
      FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
    }));
    form.querySelectorAll('[data-remove-cost]').forEach((b) => b.addEventListener('click', () => {
      collect();
      draft.costs.splice(Number(b.dataset.removeCost), 1);
      FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
    }));
    form.querySelectorAll('[data-remove-photo]').forEach((b) => b.addEventListener('click', () => {
      collect();
      draft.photos.splice(Number(b.dataset.removePhoto), 1);
      FS.store.putDraft(draft).then(() => render(view, requestId, helpers));
    }));
    document.getElementById('photo-input').addEventListener('change', async (event) => {
      collect();
      for (const file of event.target.files) {
        const { blob } = await FS.images.compressPhoto(file);
        draft.photos.push(await blobToDataUrl(blob));
      }
      await redraw();
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      collect();
      const error = document.getElementById('form-error');
      const missing = [];
      if (!draft.arrived_at) missing.push(t('arrived_at'));
      if (draft.labour_hours === '' || Number(draft.labour_hours) < 0) missing.push(t('labour_hours'));
      if (draft.outcome === 'resolved' && !draft.signature) missing.push(t('signature'));
      if (missing.length) {
        error.textContent = t('required') + ': ' + missing.join(', ');
        return;
      }
      const payload = {
        outcome: draft.outcome,
        arrived_at: toIso(draft.arrived_at),
        finished_at: new Date().toISOString(),
        labour_hours: Number(draft.labour_hours),
        fault_id: draft.fault_id ? Number(draft.fault_id) : null,
        fault: draft.fault || null,
        cause: draft.cause || null,
        solution: draft.solution || null,
        parts: draft.parts.map((p) => ({
          part_id: Number(p.part_id), qty: Number(p.qty), old_serial: p.old_serial || null, new_serial: p.new_serial || null,
        })),
        items: FS.settle.itemsPayload(draft.items),
        costs: draft.costs.filter((c) => c.amount !== '').map((c) => ({ kind: c.kind, amount: String(c.amount) })),
      };
      const photos = draft.photos.map((src) => imageBlob(job.id, 'photo', src));
      const signature = draft.signature ? imageBlob(job.id, 'signature', draft.signature) : null;
      payload.photo_ids = photos.map((record) => record.id);
      payload.signature_id = signature ? signature.id : null;
      const blobs = signature ? photos.concat([signature]) : photos;
      document.getElementById('submit-visit').disabled = true;
      await FS.outbox.enqueue('record_visit', job.id, payload, blobs, { draftOf: job.id });
      location.hash = '#/job/' + job.id;
      syncNow();
    });
  }

  /* A photo or the signature of the draft as a blob for the outbox, under the id the server will keep it by; *kind*
   * travels with the upload, so the server checks and stores it as what it is. */
  function imageBlob(requestId, kind, dataUrl) {
    const blob = FS.images.dataUrlToBlob(dataUrl);
    return { id: FS.outbox.uuid(), request_id: requestId, kind, content_type: blob.type, blob };
  }

  function blobToDataUrl(blob) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  FS.visit = { render };
})(self.FS = self.FS || {});
