// Carries the app route the user asked for (e.g. #/alarms/NAME from an alarm
// email) through the login form; the server accepts only "#/..." values. The
// form's action keeps the fragment too, so it survives a failed attempt.
const next = document.getElementById('login-next');
const form = document.getElementById('login-form');
if (next && form && location.hash.startsWith('#/')) {
  next.value = location.hash;
  form.action = '/console/login' + location.hash;
}
