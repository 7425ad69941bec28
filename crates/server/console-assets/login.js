// Carries the app route the user asked for (e.g. #/alarms/NAME from an alarm
// email) through the login form; the server accepts only "#/..." values.
const next = document.getElementById('login-next');
if (next && location.hash.startsWith('#/')) next.value = location.hash;
