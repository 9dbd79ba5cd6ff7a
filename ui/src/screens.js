// The screen controller: the window's state, the table of screens, moving between them, running
// one command at a time and showing its errors.

performance.mark("latchkey:app-js");

const $ = (id) => document.getElementById(id);
const value = (id) => $(id).value;
const message = $("message");

// What the window knows between screens.
const state = {
  profile: null, // the signed-in account, as the last reply described it
  signupId: "", // the pending sign-up this window started: it proves, with the code, who started it
  resetEmail: "", // the address a password-reset code went to
  resetId: "", // the reset this window asked for: only it can enter the code
  challenge: "", // a right password waiting for its second factor's code
  enrolling: false, // a second-factor set-up waiting for its first code
};

const SESSION_ENDED =
  "You were signed out because your session ended: it expired, or it was ended elsewhere (for example by a " +
  "password change or reset). Please sign in again.";

const SIGNED_OUT_ELSEWHERE = "You were signed out from another device. Sign in again to continue.";

// Every screen and what it needs. `fields`: the input that shows an `invalid_input` for each request
// field. `marks`: other error codes that are about one input. `focusOn`: where focus goes after other
// errors (else the screen's heading). `strength`: the new-password input with a live hint and the
// username and email it must not contain. `resend`: the button with a cooldown. `signedIn`: the screen
// needs a session. `enter`: fills the screen as it is shown. `onError`: what an error changes beyond
// the message. `keep`: its fields survive leaving it (otherwise only inputs marked data-keep do).
const SCREENS = {
  loading: {},
  error: {},
  signup: {
    keep: true,
    fields: { username: "signup-username", email: "signup-email", password: "signup-password" },
    strength: {
      input: "signup-password",
      also: ["signup-username", "signup-email"],
      context: () => [value("signup-username"), value("signup-email")],
    },
  },
  verify: { fields: { code: "verify-code" }, focusOn: { invalid_code: "verify-code" }, resend: "verify-resend" },
  login: {
    fields: { identifier: "login-username", password: "login-password" },
    focusOn: { login_throttled: "to-forgot", password_reset_required: "to-forgot" },
  },
  forgot: { fields: { email: "forgot-email" }, enter: enterForgot },
  reset: {
    fields: { code: "reset-code", password: "reset-password" },
    focusOn: { invalid_code: "reset-code" },
    strength: { input: "reset-password", context: () => ["", state.resetEmail] },
    resend: "reset-resend",
  },
  profile: { signedIn: true, enter: enterProfile },
  password: {
    signedIn: true,
    fields: { current_password: "password-current", new_password: "password-new" },
    marks: { wrong_password: "password-current" },
    strength: { input: "password-new", context: () => [state.profile?.username ?? "", state.profile?.email ?? ""] },
  },
  email: {
    signedIn: true,
    fields: { password: "email-password", new_email: "email-new" },
    marks: { wrong_password: "email-password", email_taken: "email-new" },
  },
  "email-verify": {
    signedIn: true,
    fields: { code: "email-verify-code" },
    focusOn: { invalid_code: "email-verify-code" },
    resend: "email-verify-resend",
    onError: (error) => {
      // These end the change: the profile must not offer to continue it.
      if (["too_many_attempts", "code_expired", "no_pending_email_change"].includes(error.code)) {
        state.profile = { ...state.profile, pending_email: null };
      }
    },
  },
  devices: { signedIn: true, enter: enterDevices },
  activity: { signedIn: true, enter: enterActivity },
  "login-code": {
    fields: { code: "login-code" },
    focusOn: { invalid_second_factor: "login-code" },
    onError: (error) => {
      if (error.code === "no_pending_sign_in") go("login", { say: error.detail, code: error.code });
    },
  },
  "second-factor": {
    signedIn: true,
    enter: enterSecondFactor,
    fields: { password: "second-factor-password", code: "second-factor-code" },
    marks: { wrong_password: "second-factor-password", invalid_second_factor: "second-factor-code" },
  },
  export: { signedIn: true, fields: { password: "export-password" }, marks: { wrong_password: "export-password" } },
  delete: {
    signedIn: true,
    fields: { password: "delete-password", confirm: "delete-confirm" },
    marks: { wrong_password: "delete-password" },
    enter: enterDelete,
  },
};

let current = "loading";

// The one way between screens. Whatever was running for the old screen no longer applies to the
// new one; its errors, hints and typed secrets go with it.
function go(name, { say: text = "", code = "" } = {}) {
  // For the start-up benchmark: when the first real screen appeared, in page time.
  if (current === "loading" && name !== "loading") performance.mark("latchkey:first-screen");
  release();
  leave(current);
  current = name;
  for (const screen of Object.keys(SCREENS)) $(`${screen}-screen`).hidden = screen !== name;
  say(text, code);
  SCREENS[name].enter?.();
  if (SCREENS[name].strength) updateStrength();
  tickResend();
  const first = $(`${name}-screen`).querySelector("input");
  (first ?? $(`${name}-title`)).focus();
}

function leave(name) {
  clearFieldErrors();
  clearStrength();
  const section = $(`${name}-screen`);
  for (const toggle of section.querySelectorAll(".reveal")) reveal(toggle, false);
  if (SCREENS[name].keep) return;
  for (const input of section.querySelectorAll("input:not([data-keep])")) input.value = "";
}

function signedOut(text, code = "") {
  state.profile = null;
  go("login", { say: text, code });
}

function say(detail, code = "") {
  message.textContent = detail;
  if (code) message.dataset.code = code;
  else message.removeAttribute("data-code");
}

// Runs one command for the current screen. Its forms and buttons are inert meanwhile, so double
// clicks, repeated Enter and typing into a form already sent change nothing; only the ways out
// (class "way-out": back, sign in, sign up) stay usable. An answer that arrives after the person
// left the screen is dropped: it never moves them or marks a field elsewhere.
let running = null;

async function run(button, label, command, done) {
  if (running) return;
  const section = $(`${current}-screen`);
  const parts = [...section.querySelectorAll("form, button, a")].filter(
    (el) => el.matches("form") || (!el.closest("form") && !el.matches(".way-out")),
  );
  const job = { section, parts, button, text: button.textContent };
  running = job;
  for (const part of parts) part.inert = true;
  section.setAttribute("aria-busy", "true");
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  clearFieldErrors();
  let reply;
  try {
    reply = await command();
  } catch (error) {
    if (running !== job) return;
    release();
    fail(error, button);
    return;
  }
  if (running !== job) return;
  release();
  done(reply);
}

function release() {
  if (!running) return;
  const { section, parts, button, text } = running;
  running = null;
  for (const part of parts) part.inert = false;
  section.removeAttribute("aria-busy");
  button.removeAttribute("aria-busy");
  button.textContent = text;
  tickResend();
}

function fail(error, button) {
  const screen = SCREENS[current];
  if (error.code === "not_authenticated" && screen.signedIn) {
    signedOut(SESSION_ENDED, error.code);
    return;
  }
  if (error.code === "signed_out_elsewhere") {
    signedOut(error.detail, error.code);
    return;
  }
  if (error.code === "second_factor_required" && error.challenge) {
    // A right password (or a reset) for an account with two-step sign-in: its code comes next.
    state.challenge = error.challenge;
    go("login-code");
    return;
  }
  screen.onError?.(error);
  if (error.code === "resend_too_soon" && error.retry_after && screen.resend) {
    cooldowns[screen.resend] = Date.now() + error.retry_after * 1000;
    tickResend();
  }
  say(error.detail, error.code);
  const inputId = error.code === "invalid_input" ? screen.fields?.[error.field] : screen.marks?.[error.code];
  if (inputId) {
    markField(inputId, error.detail);
    $(inputId).focus();
    return;
  }
  // Not about one field: the input to retry, the button pressed outside a form, or the heading.
  const focusId = screen.focusOn?.[error.code];
  const target = focusId ? $(focusId) : button && !button.form ? button : $(`${current}-title`);
  target.focus();
  if (target.select) target.select();
}

function markField(inputId, detail) {
  const input = $(inputId);
  input.dataset.describedby ??= input.getAttribute("aria-describedby") ?? "";
  const note = document.createElement("p");
  note.id = `${inputId}-error`;
  note.className = "hint error";
  note.textContent = detail;
  input.closest(".field").append(note);
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", `${input.dataset.describedby} ${note.id}`.trim());
  if ($(`${inputId}-strength`)) clearStrength(); // the error below says it more precisely
}

function clearFieldErrors() {
  for (const input of document.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    $(`${input.id}-error`)?.remove();
    input.setAttribute("aria-describedby", (input.dataset.describedby ?? "").trim());
    if (!input.getAttribute("aria-describedby")) input.removeAttribute("aria-describedby");
  }
}

function reveal(toggle, shown) {
  $(toggle.getAttribute("aria-controls")).type = shown ? "text" : "password";
  toggle.textContent = shown ? "Hide" : "Show";
  toggle.setAttribute("aria-pressed", String(shown));
}

