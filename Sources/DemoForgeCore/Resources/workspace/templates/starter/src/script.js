// Small progressive enhancements; the page works without JavaScript.
(function () {
  'use strict';

  // Keep the copyright year current.
  var year = String(new Date().getFullYear());
  document.querySelectorAll('[data-year]').forEach(function (element) {
    element.textContent = year;
  });

  // Give the header a shadow once the page is scrolled.
  var header = document.querySelector('.site-header');
  if (header) {
    var update = function () {
      header.classList.toggle('is-scrolled', window.scrollY > 8);
    };
    update();
    window.addEventListener('scroll', update, { passive: true });
  }
})();
