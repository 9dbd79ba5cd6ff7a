import { api } from "./api.js";

performance.mark("latchkey:app-js");

const $ = (id) => document.getElementById(id);
const SCREENS = ["loading", "error", "signup", "verify", "login", "profile"];
const message = $("message");

// Which input shows an error for an `invalid_input` field, per screen.
const FIELD_INPUTS = {
  signup: { username: "signup-username", email: "signup-email", password: "signup-password" },
  verify: { code: "verify-code" },
  login: { identifier: "login-username", password: "login-password" },
};

let current = "loading";
let pendingEmail = "";
let resendAt = 0; // milliseconds since the epoch
let countdown = null;

function show(name, { focus = true } = {}) {
  // For the start-up benchmark: when the first real screen appeared, in page time.
  if (current === "loading" && name !== "loading") performance.mark("latchkey:first-screen");
  current = name;
  for (const screen of SCREENS) $(`${screen}-screen`).hidden = screen !== name;
  if (!focus) return;
  const first = $(`${name}-screen`).querySelector("input");
  (first ?? $(`${name}-title`)).focus();
}

function clearFieldErrors() {
  for (const input of document.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    const hint = $(`${input.id}-error`);
    if (hint) hint.remove();
    input.setAttribute("aria-describedby", (input.dataset.describedby ?? "").trim());
    if (!input.getAttribute("aria-describedby")) input.removeAttribute("aria-describedby");
  }
}

function say(detail, code = "") {
  message.textContent = detail;
  if (code) message.dataset.code = code;
  else message.removeAttribute("data-code");
}

function showError(error) {
  say(error.detail, error.code);
  const inputId = FIELD_INPUTS[current]?.[error.field];
  if (error.code === "invalid_input" && inputId) {
    const input = $(inputId);
    input.dataset.describedby ??= input.getAttribute("aria-describedby") ?? "";
    const note = document.createElement("p");
    note.id = `${inputId}-error`;
    note.className = "hint error";
    note.textContent = error.detail;
    input.closest(".field").append(note);
    input.setAttribute("aria-invalid", "true");
    if (inputId === "signup-password") clearStrength(); // the error below says it more precisely
    input.setAttribute("aria-describedby", `${input.dataset.describedby} ${note.id}`.trim());
    input.focus();
  }
}

// Runs one command with its button disabled, so double clicks and repeated Enter send one request.
async function busy(button, label, work) {
  if (button.disabled) return;
  const text = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  clearFieldErrors();
  try {
    await work();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = text;
    if (button.id === "verify-resend") tickResend();
  }
}

function formatDate(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function showProfile(profile) {
  $("profile-username").textContent = profile.username;
  $("profile-email").textContent = profile.email;
  $("profile-joined").textContent = formatDate(profile.date_joined);
  $("profile-expires").textContent = formatDate(profile.session_expires_at);
  show("profile");
}

function codeSent(reply) {
  pendingEmail = reply.email;
  resendAt = reply.resend_at * 1000;
  $("verify-info").textContent =
    reply.delivery.mode === "outbox"
      ? `Mail delivery is not set up on this computer, so the email for ${reply.email} was saved as a file (its location is below). Open it to find your code.`
      : `Enter the code we emailed to ${reply.email}. It works for 10 minutes.`;
  $("verify-code").value = "";
  tickResend();
}

// The button stays usable during the countdown: pressing it early explains why it has to wait.
function tickResend() {
  clearTimeout(countdown);
  const button = $("verify-resend");
  if (button.getAttribute("aria-busy") === "true") return;
  const left = Math.ceil((resendAt - Date.now()) / 1000);
  button.textContent = left > 0 ? `Send a new code in ${left}s` : "Send a new code";
  if (left > 0) countdown = setTimeout(tickResend, 1000);
}

function onSubmit(formId, handler) {
  $(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
}

onSubmit("signup-form", () =>
  busy($("signup-submit"), "Sending code…", async () => {
    const reply = await api.requestSignup($("signup-username").value, $("signup-email").value, $("signup-password").value);
    codeSent(reply);
    say(reply.detail);
    show("verify");
  }),
);

onSubmit("verify-form", () =>
  busy($("verify-submit"), "Verifying…", async () => {
    // On too_many_attempts or code_expired the message says to sign up again; the screen stays,
    // and "Wrong address? Go back" returns to the filled-in form.
    const reply = await api.verifySignup(pendingEmail, $("verify-code").value);
    $("signup-password").value = "";
    say(reply.detail);
    showProfile(reply.profile);
  }),
);

$("verify-resend").addEventListener("click", () =>
  busy($("verify-resend"), "Sending…", async () => {
    try {
      const reply = await api.resendCode(pendingEmail);
      codeSent(reply);
      say(reply.detail);
      $("verify-code").focus();
    } catch (error) {
      if (error.code === "resend_too_soon" && error.retry_after) resendAt = Date.now() + error.retry_after * 1000;
      throw error;
    }
  }),
);

$("verify-back").addEventListener("click", () => {
  say("");
  show("signup");
});

onSubmit("login-form", () =>
  busy($("login-submit"), "Signing in…", async () => {
    const reply = await api.login($("login-username").value, $("login-password").value);
    $("login-password").value = "";
    say(reply.detail);
    showProfile(reply.profile);
  }),
);

$("logout").addEventListener("click", () =>
  busy($("logout"), "Signing out…", async () => {
    const reply = await api.logout();
    say(reply.detail);
    show("login");
  }),
);

$("to-login").addEventListener("click", (event) => {
  event.preventDefault();
  say("");
  show("login");
});

$("to-signup").addEventListener("click", (event) => {
  event.preventDefault();
  say("");
  show("signup");
});

for (const toggle of document.querySelectorAll(".reveal")) {
  toggle.addEventListener("click", () => {
    const input = $(toggle.getAttribute("aria-controls"));
    const reveal = input.type === "password";
    input.type = reveal ? "text" : "password";
    toggle.textContent = reveal ? "Hide" : "Show";
    toggle.setAttribute("aria-pressed", String(reveal));
  });
}

// The live strength hint asks the Rust side, so it applies exactly the rules sign-up enforces.
let strengthTimer = null;
let strengthAsked = 0;
function updateStrength() {
  clearTimeout(strengthTimer);
  strengthTimer = setTimeout(async () => {
    const output = $("signup-password-strength");
    const password = $("signup-password").value;
    const asked = ++strengthAsked;
    if (!password) {
      clearStrength();
      return;
    }
    try {
      const reply = await api.checkPassword($("signup-username").value, $("signup-email").value, password);
      if (asked !== strengthAsked) return; // an answer to an older keystroke
      output.dataset.strength = reply.strength;
      output.textContent = reply.acceptable ? `Strength: ${reply.detail}` : reply.detail;
    } catch {
      clearStrength();
    }
  }, 150);
}

function clearStrength() {
  clearTimeout(strengthTimer);
  strengthAsked++; // an answer still on its way is now stale
  $("signup-password-strength").textContent = "";
  $("signup-password-strength").dataset.strength = "";
}
for (const id of ["signup-password", "signup-username", "signup-email"]) {
  $(id).addEventListener("input", updateStrength);
}

async function start() {
  try {
    const reply = await api.startup();
    if (reply.screen === "profile" && reply.profile) showProfile(reply.profile);
    else show(reply.screen);
  } catch (error) {
    if (error.code === "startup_failed") {
      show("error");
      say(error.detail, error.code);
      return;
    }
    show("login");
    showError(error);
  }
}

start();
