/* The phone's database (IndexedDB through idb): jobs, the outbox, blobs, reference data, drafts, meta.
 * A classic script: the page and the service worker (importScripts) share it. */
(function (FS) {
  'use strict';

  const DB_NAME = 'fieldservice';
  const DB_VERSION = 4;
  let dbPromise = null;

  function open() {
    if (!dbPromise) {
      dbPromise = idb.openDB(DB_NAME, DB_VERSION, {
        // Step by step: a phone on any older version walks through every later step in order.
        upgrade(db, oldVersion, newVersion, tx) {
          if (oldVersion < 1) {
            db.createObjectStore('jobs', { keyPath: 'id' });
            const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
            outbox.createIndex('op_id', 'op_id', { unique: true });
            db.createObjectStore('blobs', { keyPath: 'id' });
            db.createObjectStore('reference', { keyPath: 'key' });
            db.createObjectStore('meta', { keyPath: 'key' });
          }
          if (oldVersion < 2) {
            // Drafts of unfinished visits, saved on every change: nothing is lost when the app is killed.
            db.createObjectStore('drafts', { keyPath: 'request_id' });
            tx.objectStore('outbox').createIndex('request_id', 'request_id');
            tx.objectStore('blobs').createIndex('request_id', 'request_id');
          }
          if (oldVersion < 3) {
            // The jobs' shape changed (a history visit's engineer is {id, name}, labour hours a number): forget
            // the cursor, so the next pull sends every job again and replaces the copies.
            tx.objectStore('meta').delete('cursor');
          }
          if (oldVersion < 4) {
            // In place, so a phone updated with a week of queued ops keeps every one of them (and their photos):
            // how far each photo's upload got (resumed from there after a dropped connection), and how far the
            // priming of each kind of offline data got (resumed from its `next` page).
            db.createObjectStore('uploads', { keyPath: 'id' });
            db.createObjectStore('prime', { keyPath: 'kind' });
          }
        },
        // Another tab or a new service worker needs a newer schema: let go so it can upgrade.
        blocking(currentVersion, blockedVersion, event) {
          event.target.close();
          dbPromise = null;
        },
        terminated() {
          dbPromise = null;
        },
      });
    }
    return dbPromise;
  }

  async function getMeta(key, fallback) {
    const row = await (await open()).get('meta', key);
    return row === undefined ? (fallback === undefined ? null : fallback) : row.value;
  }

  async function setMeta(key, value) {
    await (await open()).put('meta', { key, value });
  }

  async function deleteMeta(key) {
    await (await open()).delete('meta', key);
  }

  // --- jobs -------------------------------------------------------------------------------------

  async function allJobs() {
    return (await open()).getAll('jobs');
  }

  async function getJob(id) {
    return (await open()).get('jobs', Number(id));
  }

  async function putJob(job) {
    await (await open()).put('jobs', job);
  }

  /* Store a pull: upsert the changed jobs, drop the removed ones unless the engineer still has unsent or
   * rejected changes or a draft for them (then the job stays, marked removed, so nothing is lost). */
  async function applyPull(jobs, removedIds, full) {
    const db = await open();
    const tx = db.transaction(['jobs', 'outbox', 'drafts'], 'readwrite');
    const jobsStore = tx.objectStore('jobs');
    const byRequest = tx.objectStore('outbox').index('request_id');
    const drafts = tx.objectStore('drafts');
    const keep = new Set(jobs.map((j) => j.id));
    for (const job of jobs) {
      job.removed = false;
      await jobsStore.put(job);
    }
    let gone = removedIds.slice();
    if (full) {
      gone = (await jobsStore.getAllKeys()).filter((id) => !keep.has(id));
    }
    for (const id of gone) {
      const pendingCount = await byRequest.count(id);
      const draft = await drafts.get(id);
      const existing = await jobsStore.get(id);
      if (!existing) continue;
      if (pendingCount || draft) {
        existing.removed = true;
        await jobsStore.put(existing);
      } else {
        await jobsStore.delete(id);
      }
    }
    await tx.done;
  }

  /* Forget a job the server no longer shows once the engineer has dealt with its leftovers. */
  async function forgetJobIfRemoved(id) {
    const db = await open();
    const job = await db.get('jobs', Number(id));
    if (!job || !job.removed) return;
    const pendingCount = await db.countFromIndex('outbox', 'request_id', Number(id));
    const draft = await db.get('drafts', Number(id));
    if (!pendingCount && !draft) await db.delete('jobs', Number(id));
  }

  // --- outbox -----------------------------------------------------------------------------------

  /* Put an op and its blobs in one transaction (and drop the draft it came from in the same one): a phone killed at
   * any moment holds either the draft or the op, never neither and never both. */
  async function addOp(op, blobs, draftOf) {
    const db = await open();
    const tx = db.transaction(['outbox', 'blobs', 'drafts'], 'readwrite');
    for (const blob of blobs || []) await tx.objectStore('blobs').put(blob);
    const seq = await tx.objectStore('outbox').add(op);
    if (draftOf !== undefined && draftOf !== null) await tx.objectStore('drafts').delete(Number(draftOf));
    await tx.done;
    return seq;
  }

  async function listOps() {
    return (await open()).getAll('outbox'); // in seq order: the order the engineer made the changes
  }

  async function opsForRequest(requestId) {
    const ops = await (await open()).getAllFromIndex('outbox', 'request_id', Number(requestId));
    return ops.sort((a, b) => a.seq - b.seq);
  }

  async function putOp(op) {
    await (await open()).put('outbox', op);
  }

  async function getOp(seq) {
    return (await open()).get('outbox', seq);
  }

  /* Remove a delivered (or discarded) op and the blobs only it used. */
  async function deleteOp(seq) {
    const db = await open();
    const tx = db.transaction(['outbox', 'blobs', 'uploads'], 'readwrite');
    const op = await tx.objectStore('outbox').get(seq);
    if (op) {
      await tx.objectStore('outbox').delete(seq);
      for (const id of op.blob_ids || []) {
        await tx.objectStore('blobs').delete(id);
        await tx.objectStore('uploads').delete(id);
      }
    }
    await tx.done;
  }

  async function countOps() {
    const ops = await listOps();
    return {
      pending: ops.filter((o) => o.status !== 'rejected').length,
      rejected: ops.filter((o) => o.status === 'rejected').length,
    };
  }

  // --- uploads in progress (photos sent in chunks) ---------------------------------------------

  async function getUpload(id) {
    return (await open()).get('uploads', id);
  }

  async function putUpload(record) {
    record.updated_at = new Date().toISOString();
    await (await open()).put('uploads', record);
  }

  async function deleteUpload(id) {
    await (await open()).delete('uploads', id);
  }

  // --- priming (the offline set fetched page by page) -------------------------------------------

  async function getPrime(kind) {
    return (await open()).get('prime', kind);
  }

  async function allPrime() {
    return (await open()).getAll('prime');
  }

  async function putPrime(record) {
    await (await open()).put('prime', record);
  }

  async function clearPrime() {
    await (await open()).clear('prime');
  }

  /* Store one primed page: its items are added to the reference copy *key* (by id) and the kind's progress moves
   * to *state* in the same transaction, so an interruption never counts a page it did not keep. */
  async function addPrimePage(key, items, state) {
    const db = await open();
    const tx = db.transaction(['reference', 'prime'], 'readwrite');
    const row = (await tx.objectStore('reference').get(key)) || { key, items: [] };
    const byId = new Map(row.items.map((item, i) => [item.id !== undefined ? item.id : item.code || i, item]));
    for (const item of items) byId.set(item.id !== undefined ? item.id : item.code, item);
    await tx.objectStore('reference').put({ key, items: Array.from(byId.values()), at: new Date().toISOString() });
    await tx.objectStore('prime').put(state);
    await tx.done;
  }

  // --- blobs (photos, signatures) ---------------------------------------------------------------

  async function getBlob(id) {
    return (await open()).get('blobs', id);
  }

  async function putBlob(record) {
    await (await open()).put('blobs', record);
  }

  async function deleteBlob(id) {
    await (await open()).delete('blobs', id);
  }

  // --- drafts -----------------------------------------------------------------------------------

  async function getDraft(requestId) {
    return (await open()).get('drafts', Number(requestId));
  }

  async function putDraft(draft) {
    draft.saved_at = new Date().toISOString();
    await (await open()).put('drafts', draft);
  }

  async function deleteDraft(requestId) {
    await (await open()).delete('drafts', Number(requestId));
  }

  // --- reference data (knowledge, van stock, parts catalog) -------------------------------------

  async function getReference(key) {
    const row = await (await open()).get('reference', key);
    return row ? row.items : [];
  }

  async function putReference(key, items) {
    await (await open()).put('reference', { key, items, at: new Date().toISOString() });
  }

  /* Apply an incremental copy: *changed* items replace those of the same id, *removed* ids go; *full* starts over. */
  async function mergeReference(key, changed, removed, full) {
    const byId = new Map(full ? [] : (await getReference(key)).map((item) => [item.id, item]));
    for (const id of removed) byId.delete(id);
    for (const item of changed) byId.set(item.id, item);
    await putReference(key, Array.from(byId.values()));
  }

  /* Knowledge entries withdrawn on the server leave the jobs' hints too (a job is re-sent only when it changes). */
  async function dropJobHints(entryIds) {
    if (!entryIds.length) return;
    const gone = new Set(entryIds);
    const tx = (await open()).transaction('jobs', 'readwrite');
    for (const job of await tx.store.getAll()) {
      const hints = (job.knowledge || []).filter((entry) => !gone.has(entry.id));
      if (hints.length === (job.knowledge || []).length) continue;
      job.knowledge = hints;
      await tx.store.put(job);
    }
    await tx.done;
  }

  /* Log out: forget the token and the synced data, but never unsent or rejected work. */
  async function clearSession() {
    const db = await open();
    await db.delete('meta', 'session');
    await db.delete('meta', 'cursor');
    // The next user may have other skills: their knowledge copy starts from scratch.
    await db.delete('meta', 'knowledge_cursor');
    // ... and their own offline set to prime.
    await db.clear('prime');
    await db.delete('meta', 'primed');
    await db.delete('meta', 'prime_run');
  }

  FS.store = {
    open, getMeta, setMeta, deleteMeta,
    allJobs, getJob, putJob, applyPull, forgetJobIfRemoved,
    addOp, listOps, opsForRequest, putOp, getOp, deleteOp, countOps,
    getBlob, putBlob, deleteBlob,
    getUpload, putUpload, deleteUpload,
    getPrime, allPrime, putPrime, clearPrime, addPrimePage,
    getDraft, putDraft, deleteDraft,
    getReference, putReference, mergeReference, dropJobHints, clearSession,
  };
})(self.FS = self.FS || {});
