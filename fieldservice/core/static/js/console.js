// Small console behaviours, no framework: confirmation prompts, keyboard focus for search fields, polls that wait.
document.addEventListener('submit', (event) => {
  const message = event.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener('keydown', (event) => {
  if (event.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName)) {
    const search = document.querySelector('input[type=search]');
    if (search) { event.preventDefault(); search.focus(); }
  }
});
// An element that polls with htmx and carries data-poll-pauses-on-focus skips its refresh while the user works
// inside it. (htmx's trigger filters, `every 30s [...]`, evaluate a string: the content security policy refuses.)
document.addEventListener('htmx:beforeRequest', (event) => {
  const element = event.detail.elt;
  if (element === event.target && element.hasAttribute('data-poll-pauses-on-focus')
      && element.contains(document.activeElement)) {
    event.preventDefault();
  }
});
