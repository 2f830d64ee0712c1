/* Priming: on log-in and each morning the phone fetches the engineer's whole offline set, kind by kind and page by
 * page (GET /api/v1/sync/prime for the counts, /api/v1/sync/prime/<kind>?after=... for the pages). Each page is
 * stored with the kind's `next` key in one transaction, so an interrupted priming resumes where it stopped. It says
 * "ready offline" only once every kind's count matches the summary. */
(function (FS) {
  'use strict';

  const t = FS.t;
  // Items per page (the server's maximum): fewer round trips on a slow network.
  const options = { pageSize: 500 };
  const PARALLEL_KINDS = 3;
  // Where each kind lives on the phone: jobs in their own store, the rest as reference lists.
  const REFERENCE_KEYS = {
    history: 'history',
    knowledge: 'knowledge',
    stock: 'van_stock',
    parts: 'parts',
    problem_types: 'problem_types',
    repair_items: 'repair_items',
    appointments: 'appointments',
  };
  let running = null;
  const progressListeners = new Set();

  function onProgress(fn) {
    progressListeners.add(fn);
  }

  function progressed() {
    progressListeners.forEach((fn) => fn());
  }

  function today() {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  }

  function stagingKey(kind) {
    return 'prime:' + kind;
  }

  function itemKey(kind, item) {
    if (item.id !== undefined && item.id !== null) return item.id;
    if (kind === 'stock' && item.part_id !== undefined) return item.part_id;
    return item.code !== undefined ? item.code : JSON.stringify(item);
  }

  /* Store one page: jobs go straight to the jobs store (a newer copy of the same job), other kinds to a staging
   * list that replaces the working copy once the kind is complete. */
  async function storePage(kind, items, state) {
    if (kind === 'jobs') {
      const db = await FS.store.open();
      const tx = db.transaction(['jobs', 'prime'], 'readwrite');
      for (const job of items) {
        job.removed = false;
        await tx.objectStore('jobs').put(job);
      }
      await tx.objectStore('prime').put(state);
      await tx.done;
      return;
    }
    await FS.store.addPrimePage(stagingKey(kind), items.map((item) => Object.assign({ id: itemKey(kind, item) }, item)), state);
  }

  /* Fetch the rest of one kind from its stored `next`; returns the kind's state. */
  async function primeKind(kind, expected, onProgress) {
    let state = await FS.store.getPrime(kind);
    if (!state || state.expected !== expected) {
      state = { kind, next: null, fetched: 0, expected, total: null, done: false, started: false };
      if (kind !== 'jobs') await FS.store.putReference(stagingKey(kind), []);
      await FS.store.putPrime(state);
    }
    while (!state.done) {
      const query = `?limit=${options.pageSize}` + (state.next ? '&after=' + encodeURIComponent(state.next) : '');
      const answer = await FS.api.get('/api/v1/sync/prime/' + encodeURIComponent(kind) + query, { timeout: 120000 });
      const items = answer.items || [];
      state = Object.assign({}, state, {
        next: answer.next || null,
        fetched: state.fetched + items.length,
        total: answer.total,
        done: !answer.next,
        started: true,
      });
      await storePage(kind, items, state);
      onProgress();
    }
    return state;
  }

  /* The kind is complete: its staged list becomes the working copy the screens read. */
  async function promote(kind, state) {
    if (state.promoted) return; // done in an earlier, interrupted go of this run
    if (kind !== 'jobs') {
      const key = stagingKey(kind);
      const staged = await FS.store.getReference(key);
      await FS.store.putReference(REFERENCE_KEYS[kind] || kind, staged);
      await FS.store.putReference(key, []);
    }
    await FS.store.putPrime(Object.assign({}, state, { promoted: true }));
  }

  /* One priming run, resumed if an earlier one was interrupted. */
  async function run() {
    let meta = await FS.store.getMeta('prime_run');
    if (!meta || meta.state !== 'running') {
      const summary = await FS.api.get('/api/v1/sync/prime');
      await FS.store.clearPrime();
      meta = { state: 'running', started_at: new Date().toISOString(), as_of: summary.as_of, kinds: summary.kinds, attempts: 0 };
      await FS.store.setMeta('prime_run', meta);
    }
    progressed();
    const missing = {};
    async function completeKind(kind, expected) {
      let state = await primeKind(kind, expected, progressed);
      if (state.fetched !== expected) {
        // Something changed on the server while we fetched: this kind once more from its start.
        await FS.store.putPrime({ kind, next: null, fetched: 0, expected: -1 });
        state = await primeKind(kind, state.total, progressed);
        meta.kinds[kind] = state.total;
        if (state.fetched !== state.total) missing[kind] = { expected: state.total, fetched: state.fetched };
      }
      if (!missing[kind]) await promote(kind, state);
    }
    // A few kinds at a time: on a slow network each request waits out the latency, so they overlap.
    const queue = Object.entries(meta.kinds);
    const errors = [];
    const worker = async () => {
      while (queue.length) {
        const [kind, expected] = queue.shift();
        try {
          await completeKind(kind, expected);
        } catch (err) {
          errors.push(err);
          queue.length = 0; // stop starting kinds; the ones in flight finish their page and keep it
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_KINDS }, worker));
    if (errors.length) throw errors[0];
    meta.finished_at = new Date().toISOString();
    meta.state = Object.keys(missing).length ? 'incomplete' : 'done';
    meta.missing = missing;
    await FS.store.setMeta('prime_run', meta);
    if (meta.state === 'done') await FS.store.setMeta('primed', { date: today(), at: meta.finished_at, as_of: meta.as_of, kinds: meta.kinds });
    FS.outbox.notify();
    return meta;
  }

  /* Start (or resume) priming: *force* on log-in; otherwise once a day, or when an earlier run did not finish. */
  async function startIfDue(force) {
    if (running) return running;
    if (!FS.outbox.online()) return null;
    const session = await FS.store.getMeta('session');
    if (!session || !session.token || session.expired) return null;
    const meta = await FS.store.getMeta('prime_run');
    const primed = await FS.store.getMeta('primed');
    const due = force || (meta && meta.state === 'running') || !primed || primed.date !== today();
    if (!due) return null;
    if (force && meta && meta.state !== 'running') await FS.store.setMeta('prime_run', null);
    running = run()
      .catch(async (err) => {
        // Interrupted (no signal, the server away): the pages kept stay, the next try resumes from `next`.
        const current = (await FS.store.getMeta('prime_run')) || {};
        current.last_error = (err && err.message) || String(err);
        await FS.store.setMeta('prime_run', current);
        if (err instanceof FS.api.ApiError && err.status === 404) {
          // A server without priming: the ordinary pull is the offline set.
          current.state = 'unsupported';
          await FS.store.setMeta('prime_run', current);
        }
        FS.outbox.notify();
        return current;
      })
      .finally(() => { running = null; });
    return running;
  }

  /* How far priming got: {state, fetched, expected, percent}. */
  async function progress() {
    const meta = await FS.store.getMeta('prime_run');
    const primed = await FS.store.getMeta('primed');
    if (!meta) return { state: primed ? 'done' : 'none', primed };
    let fetched = 0;
    let expected = 0;
    const states = new Map((await FS.store.allPrime()).map((s) => [s.kind, s]));
    for (const [kind, count] of Object.entries(meta.kinds || {})) {
      expected += count;
      const s = states.get(kind);
      fetched += s ? Math.min(s.fetched, count) : 0;
    }
    const percent = expected ? Math.floor((100 * fetched) / expected) : 100;
    return { state: meta.state, fetched, expected, percent, primed, meta, kinds: states, interrupted: !running && meta.state === 'running' };
  }

  /* The sync bar's word on the offline set. */
  async function pill(esc) {
    const p = await progress();
    if (p.state === 'none' || p.state === 'unsupported') return '';
    let text;
    let cls = '';
    if (p.state === 'running') {
      text = t(p.interrupted ? 'prime_paused' : 'prime_running', { percent: p.percent, fetched: p.fetched, expected: p.expected });
      cls = 'warn';
    } else if (p.state === 'incomplete') {
      text = t('prime_incomplete');
      cls = 'bad';
    } else {
      text = t('prime_ready');
      cls = 'ok';
    }
    return `<a class="pill ${cls}" id="prime-state" href="#/outbox" data-state="${esc(p.state)}" data-progress="${p.percent === undefined ? 100 : p.percent}">${esc(text)}</a>`;
  }

  /* The outbox screen's card: each kind's count, and a button to fetch everything again. */
  async function card(esc, fmt) {
    const p = await progress();
    if (p.state === 'none' || p.state === 'unsupported') return '';
    const rows = Object.entries((p.meta && p.meta.kinds) || {}).map(([kind, count]) => {
      const s = p.kinds && p.kinds.get(kind);
      return `<li data-kind="${esc(kind)}">${esc(t('prime_kind_' + kind))}: ${s ? Math.min(s.fetched, count) : 0} / ${count}</li>`;
    }).join('');
    return `<div class="card" id="prime-card"><h3>${esc(t('prime_title'))}</h3>
      ${await pill(esc)}
      ${p.primed ? `<p class="muted">${esc(t('prime_done_at', { time: fmt(p.primed.at) }))}</p>` : ''}
      <ul class="timeline">${rows}</ul>
      <div class="actions"><button type="button" id="prime-again" ${FS.outbox.online() ? '' : 'disabled'}>${esc(t('prime_again'))}</button></div></div>`;
  }

  FS.prime = { startIfDue, progress, pill, card, run, onProgress, options, get running() { return running; } };
})(self.FS = self.FS || {});
