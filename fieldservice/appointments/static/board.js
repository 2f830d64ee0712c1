// The schedule board: place each bar (shift, leave, appointment) on its row's day from its data attributes; the
// content security policy allows no style attributes in the page, but a script of ours may set styles.
(function () {
  'use strict';
  function place() {
    document.querySelectorAll('.bar [data-left]').forEach((bar) => {
      bar.style.left = bar.dataset.left + '%';
      bar.style.width = bar.dataset.width + '%';
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', place);
  else place();
})();
