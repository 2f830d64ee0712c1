/* The claim pool: open jobs this engineer may claim (their skills and zone). The list is fetched when online and
 * kept for offline reading; a claim is an outbox op like any other, so it is queued offline and a refusal (someone
 * else claimed first) stays on this screen with the server's reason until the engineer discards it. */
(function (FS) {
  'use strict';

  const t = FS.t;

  async function claimOps() {
    return (await FS.store.listOps()).filter((op) => op.type === 'claim');
  }

  function poolCard(item, claim, helpers, names) {
    const { esc, fmt } = helpers;
    const problem = names.get(item.problem_type);
    const action = claim
      ? `<span class="pill warn" data-claim-pending="${item.id}">${esc(t('claim_waiting'))}</span>`
      : `<button type="button" class="primary" data-claim="${item.id}">${esc(t('claim_this'))}</button>`;
    return `<div class="card job" data-pool-job="${item.id}">
      <div class="row"><strong class="grow">${esc(item.number)}</strong>${action}</div>
      <div>${esc(item.customer ? item.customer.name : '')} · ${esc(problem ? problem[FS.i18n.lang] || problem.zh : item.problem_type)}</div>
      <div class="muted">${esc(item.customer ? item.customer.address : '')}</div>
      <p>${esc(item.description)}</p>
      <div class="muted">${esc(t('due', { time: fmt(item.required_by) }))} · ${esc(t('priority', { n: item.priority }))}</div>
    </div>`;
  }

  async function render(view, helpers) {
    const { esc, fmt, syncNow, rejectedCard } = helpers;
    const paint = async () => {
      const ops = await claimOps();
      const mine = new Set((await FS.store.allJobs()).filter((j) => !j.removed).map((j) => j.id));
      const pending = new Set(ops.filter((op) => op.status !== 'rejected').map((op) => op.request_id));
      const items = (await FS.store.getReference('pool')).filter((item) => !mine.has(item.id));
      const names = new Map((await FS.store.getReference('problem_types')).map((p) => [p.code, p]));
      const at = await FS.store.getMeta('pool_at');
      let html = `<p><a href="#/jobs">‹ ${esc(t('back'))}</a></p>
        <div class="row"><h2 class="grow">${esc(t('claim_pool'))}</h2>
        <button type="button" id="pool-refresh" ${FS.outbox.online() ? '' : 'disabled'}>${esc(t('refresh'))}</button></div>
        <p class="muted" id="pool-as-of">${esc(at ? t('pool_as_of', { time: fmt(at) }) : t('pool_never'))}</p>`;
      html += ops.filter((op) => op.status === 'rejected').map(rejectedCard).join('');
      html += items.length
        ? items.map((item) => poolCard(item, pending.has(item.id), helpers, names)).join('')
        : `<p class="muted" id="pool-empty">${esc(t('pool_empty'))}</p>`;
      // Drawn after a few reads: the engineer may have left the pool meanwhile (its redraw must not cover the list).
      if (!location.hash.startsWith('#/pool')) return;
      view.innerHTML = html;
      view.querySelectorAll('[data-claim]').forEach((button) => button.addEventListener('click', async () => {
        button.disabled = true;
        await FS.outbox.enqueue('claim', Number(button.dataset.claim), {});
        await paint();
        syncNow();
      }));
      FS.outboxView.wireRejected(view, async (send) => {
        if (send) await syncNow();
        await paint();
      });
      document.getElementById('pool-refresh').addEventListener('click', async () => {
        await FS.outbox.refreshPool();
        await paint();
      });
    };
    await paint();
    if (helpers.fetch) {
      await FS.outbox.refreshPool();
      if (location.hash.startsWith('#/pool')) await paint();
    }
  }

  FS.pool = { render };
})(self.FS = self.FS || {});
