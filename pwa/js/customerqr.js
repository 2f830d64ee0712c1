/* The customer's QR on the engineer's phone: the request's progress and report page, drawn on the phone (offline
 * too) so the customer can scan it on site. The URL comes with the job (customer_url); qrcode-generator draws it. */
/* global qrcode */
(function (FS) {
  'use strict';

  const t = (key, params) => FS.t(key, params);

  function esc(value) {
    return String(value == null ? '' : value).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    }[c]));
  }

  /** An SVG of *url* as a QR code (error correction M, like the printed work order), or '' without a URL. */
  function svg(url) {
    if (!url) return '';
    const code = qrcode(0, 'M');
    code.addData(url, 'Byte');
    code.make();
    return code.createSvgTag({ cellSize: 4, margin: 8, scalable: true, alt: t('customer_qr_alt') });
  }

  // The job whose QR is on screen: a redraw (a sync coming in while the customer scans) keeps it there.
  let shown = null;

  /** The card of the job page: a button that shows the QR, hidden until asked (a scan needs a big, bright code). */
  function card(job) {
    if (!job.customer_url) return '';
    const open = shown === job.id;
    return `<div class="card" id="customer-qr-card"><div class="row"><h3 class="grow">${esc(t('customer_qr'))}</h3>
        <button type="button" id="show-customer-qr">${esc(t(open ? 'hide_customer_qr' : 'show_customer_qr'))}</button></div>
      <p class="muted">${esc(t('customer_qr_hint'))}</p>
      <div id="customer-qr" class="qr"${open ? '' : ' hidden'}>${open ? svg(job.customer_url) : ''}</div></div>`;
  }

  function bind(job) {
    const button = document.getElementById('show-customer-qr');
    const box = document.getElementById('customer-qr');
    if (!button || !box) return;
    button.addEventListener('click', () => {
      if (box.hidden) {
        shown = job.id;
        box.innerHTML = svg(job.customer_url);
        box.hidden = false;
        button.textContent = t('hide_customer_qr');
      } else {
        shown = null;
        box.hidden = true;
        box.innerHTML = '';
        button.textContent = t('show_customer_qr');
      }
    });
  }

  FS.customerQr = { svg, card, bind };
})(self.FS = self.FS || {});
