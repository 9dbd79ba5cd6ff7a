// Parts several screens share: the resend countdowns, the live password-strength hint, dates.

// Resend buttons stay usable during their countdown: pressing early explains why it has to wait.
const cooldowns = {}; // resend button id -> when it may send again, in milliseconds since the epoch
let countdown = null;

function tickResend() {
  clearTimeout(countdown);
  const id = SCREENS[current].resend;
  if (!id || running?.button.id === id) return;
  const left = Math.ceil(((cooldowns[id] ?? 0) - Date.now()) / 1000);
  $(id).textContent = left > 0 ? `Send a new code in ${left}s` : "Send a new code";
  if (left > 0) countdown = setTimeout(tickResend, 1000);
}

function codeSent(resendId, reply) {
  cooldowns[resendId] = reply.resend_at * 1000;
}

// The live strength hint asks the Rust side, so it applies exactly the rules the commands enforce.
let strengthTimer = null;
let strengthAsked = 0;

function updateStrength() {
  clearTimeout(strengthTimer);
  const rule = SCREENS[current].strength;
  if (!rule) return;
  strengthTimer = setTimeout(async () => {
    const output = $(`${rule.input}-strength`);
    const password = value(rule.input);
    const asked = ++strengthAsked;
    if (!password) {
      clearStrength();
      return;
    }
    try {
      const reply = await api.checkPassword(...rule.context(), password);
      if (asked !== strengthAsked) return; // an answer to an older keystroke, or another screen
      output.dataset.strength = reply.strength;
      output.textContent = reply.acceptable ? `Strength: ${reply.detail}` : reply.detail;
    } catch {
      if (asked === strengthAsked) clearStrength();
    }
  }, 150);
}

function clearStrength() {
  clearTimeout(strengthTimer);
  strengthAsked++; // an answer still on its way is now stale
  for (const output of document.querySelectorAll(".strength")) {
    output.textContent = "";
    output.dataset.strength = "";
  }
}

function formatDate(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function outboxOrMail(reply, mailed) {
  return reply.delivery.mode === "outbox"
    ? `Mail delivery is not set up on this computer, so the email for ${reply.email} was saved as a file (its location is below). Open it to find your code.`
    : mailed;
}

