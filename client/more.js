// The phone's "More" menu: below 700 px the controls bar keeps camera, microphone, hand, chat,
// More and Hang up, and #more-items (Share screen, Settings, Full screen, Record, Host controls,
// End for everyone, Layout) opens above it. On a wider screen #more-items is part of the bar and
// More is not shown. The menu closes after a choice, on a click elsewhere and on Escape.
import { $ } from './state.js';

function setOpen(open) {
  $('more-items').classList.toggle('open', open);
  $('more-button').setAttribute('aria-expanded', String(open));
}

export function initMore() {
  $('more-button').onclick = () => setOpen(!$('more-items').classList.contains('open'));
  // A button in the menu is a choice; the Host controls summary and the layout picker are not.
  $('more-items').addEventListener('click', (e) => {
    if (e.target.closest('button')) setOpen(false);
  });
  $('layout-select').addEventListener('change', () => setOpen(false));
  document.addEventListener('click', (e) => {
    if (!e.target.closest('#more-items, #more-button')) setOpen(false);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && $('more-items').classList.contains('open')) {
      setOpen(false);
      $('more-button').focus();
    }
  });
}
