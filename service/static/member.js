/* The member's page (/m?token=...): hands the token in the address to the <recsys-daily> component. */
(function () {
  'use strict';
  var token = new URLSearchParams(window.location.search).get('token') || '';
  var daily = document.getElementById('daily');
  daily.setAttribute('base', window.location.origin);
  daily.setAttribute('token', token);
})();
