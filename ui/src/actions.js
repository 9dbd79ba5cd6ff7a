// Each screen's behaviour: what it shows as it opens, and what its form and buttons do.

// What each screen shows as it opens.

function enterProfile() {
  const profile = state.profile;
  $("profile-username").textContent = profile.username;
  $("profile-email").textContent = profile.email;
  $("profile-joined").textContent = formatDate(profile.date_joined);
  $("profile-expires").textContent = formatDate(profile.session_expires_at);
  const pending = profile.pending_email ?? "";
  $("profile-pending").hidden = !pending;
  $("profile-pending-email").textContent = pending;
  const left = profile.recovery_codes_left;
  $("to-second-factor").textContent = profile.second_factor
    ? `Two-step sign-in: on${left <= 3 ? ` (${left} recovery ${left === 1 ? "code" : "codes"} left)` : ""}`
    : "Two-step sign-in: off";
}

function enterForgot() {
  // An address typed on the sign-in screen is a good guess.
  const typed = value("login-username").trim();
  if (typed.includes("@")) $("forgot-email").value = typed;
}

function enterDelete() {
  $("delete-username").textContent = state.profile.username;
}

// The devices list: filled when the screen opens and after each sign-out from it.
function enterDevices() {
  $("devices-list").replaceChildren();
  $("devices-revoke-others").hidden = true;
  loadDevices();
}

async function loadDevices() {
  let reply;
  try {
    reply = await api.sessions();
  } catch (error) {
    if (current === "devices") fail(error);
    return;
  }
  if (current !== "devices") return;
  $("devices-list").replaceChildren(...reply.sessions.map(deviceRow));
  $("devices-revoke-others").hidden = reply.sessions.every((session) => session.current);
}

function deviceRow(session) {
  const row = document.createElement("li");
  row.className = session.current ? "device-row current" : "device-row";
  row.dataset.sessionId = session.id;
  const text = document.createElement("div");
  const name = document.createElement("strong");
  name.textContent = session.device;
  const hint = (words) => {
    const line = document.createElement("p");
    line.className = "hint";
    line.textContent = words;
    return line;
  };
  const where = session.ip ? ` from ${session.ip}` : "";
  const used = session.current ? "This device" : `Last used ${formatDate(session.last_seen_at)}`;
  text.append(name, hint(used), hint(`Signed in ${formatDate(session.created_at)}${where}`));
  row.append(text);
  if (!session.current) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary device-revoke";
    button.textContent = "Sign out";
    button.setAttribute("aria-label", `Sign out ${session.device}, last used ${formatDate(session.last_seen_at)}`);
    button.addEventListener("click", () =>
      run(button, "Signing out…", () => api.revokeSession(session.id), (reply) => {
        say(reply.detail);
        loadDevices();
        $("devices-title").focus();
      }),
    );
    row.append(button);
  }
  return row;
}

function revokeOtherDevices() {
  run($("devices-revoke-others"), "Signing out…", api.revokeOtherSessions, (reply) => {
    say(reply.detail);
    loadDevices();
    $("devices-title").focus();
  });
}

// What each kind of security event is called on the activity screen.
const EVENT_WORDS = {
  signed_up: "Account created",
  sign_in: "Signed in",
  sign_in_failed: "Wrong password entered",
  sign_in_throttled: "Sign-in refused after too many wrong passwords",
  code_sent: "Code emailed (password reset or email change)",
  password_reset: "Password reset with an emailed code",
  password_changed: "Password changed",
  email_changed: "Email address changed",
  session_revoked: "Signed out from another device",
  new_device: "Signed in from a new device (we emailed you)",
  account_deleted: "Account deleted",
};

// The activity list: the newest page when the screen opens, older pages on "Show older".
let activityNext = null;

function enterActivity() {
  $("activity-list").replaceChildren();
  $("activity-more").hidden = true;
  loadActivity(null);
}

async function loadActivity(before) {
  let reply;
  try {
    reply = await api.activity(before);
  } catch (error) {
    if (current === "activity") fail(error);
    return;
  }
  if (current !== "activity") return;
  $("activity-list").append(...reply.events.map(activityRow));
  if (before === null && reply.events.length === 0) say(reply.detail);
  activityNext = reply.next;
  $("activity-more").hidden = reply.next === null;
}

function activityRow(event) {
  const row = document.createElement("li");
  row.className = "activity-row";
  row.dataset.kind = event.kind;
  const what = document.createElement("strong");
  what.textContent = EVENT_WORDS[event.kind] ?? event.kind;
  const when = document.createElement("p");
  when.className = "hint";
  const parts = [formatDate(event.at), event.device, event.ip && `from ${event.ip}`].filter(Boolean);
  when.textContent = parts.join(" · ");
  row.append(what, when);
  return row;
}

function submitLoginCode() {
  run($("login-code-submit"), "Signing in…", () => api.loginSecondFactor(state.challenge, value("login-code")), (reply) => {
    state.challenge = "";
    $("login-password").value = "";
    signedIn(reply);
  });
}

// The two-step sign-in screen has three states: off (password, "Set up"), set-up (the key, a code,
// "Turn on"), on (password and a code, "New recovery codes" or "Turn off"); recovery codes, when
// new, are shown once in place of the form.
function enterSecondFactor() {
  state.enrolling = false;
  showSecondFactor(state.profile.second_factor ? "on" : "off");
}

function showSecondFactor(mode) {
  const on = mode === "on";
  const left = state.profile.recovery_codes_left;
  const info = {
    off: "After your password, signing in will also ask for a 6-digit code from an authenticator app on your phone. Enter your password to start.",
    enrol: "Scan the QR code with your authenticator app (or type the key), then enter the code it shows.",
    on: `Two-step sign-in is on. ${left} recovery ${left === 1 ? "code is" : "codes are"} left${left <= 3 ? ": make new ones soon" : ""}. To turn it off or make new recovery codes, enter your password and a code.`,
    codes: "Save these recovery codes somewhere safe: each signs in once without your phone. They are shown only now.",
  }[mode];
  $("second-factor-info").textContent = info;
  $("second-factor-info").classList.toggle("warning", on && left <= 3);
  $("second-factor-enrol").hidden = mode !== "enrol";
  $("second-factor-codes").hidden = mode !== "codes";
  $("second-factor-form").hidden = mode === "codes";
  $("second-factor-password-field").hidden = mode === "enrol";
  $("second-factor-code-field").hidden = mode === "off";
  $("second-factor-start").hidden = mode !== "off";
  $("second-factor-confirm").hidden = mode !== "enrol";
  $("second-factor-regenerate").hidden = !on;
  $("second-factor-disable").hidden = !on;
}

function submitSecondFactor() {
  if (state.enrolling) confirmSecondFactor();
  else if (!state.profile.second_factor) startSecondFactor();
}

function startSecondFactor() {
  run($("second-factor-start"), "Preparing…", () => api.secondFactorSetup(value("second-factor-password")), (reply) => {
    state.enrolling = true;
    $("second-factor-password").value = "";
    // The drawing is Latchkey's own (rects in an SVG made by the Rust side), nothing fetched.
    $("second-factor-qr").innerHTML = reply.qr_svg;
    $("second-factor-secret").textContent = reply.secret;
    showSecondFactor("enrol");
    say(reply.detail);
    $("second-factor-code").focus();
  });
}

function confirmSecondFactor() {
  run($("second-factor-confirm"), "Turning on…", () => api.secondFactorConfirm(value("second-factor-code")), (reply) => {
    state.enrolling = false;
    state.profile = { ...state.profile, second_factor: true, recovery_codes_left: reply.recovery_codes.length };
    showRecoveryCodes(reply);
  });
}

function showRecoveryCodes(reply) {
  $("second-factor-qr").replaceChildren();
  $("second-factor-secret").textContent = "";
  for (const id of ["second-factor-code", "second-factor-password"]) $(id).value = "";
  $("recovery-codes").replaceChildren(
    ...reply.recovery_codes.map((code) => {
      const item = document.createElement("li");
      item.textContent = code;
      return item;
    }),
  );
  showSecondFactor("codes");
  say(reply.detail);
  $("recovery-codes-done").focus();
}

function regenerateRecoveryCodes() {
  const request = () => api.secondFactorRecoveryCodes(value("second-factor-password"), value("second-factor-code"));
  run($("second-factor-regenerate"), "Making codes…", request, (reply) => {
    state.profile = { ...state.profile, recovery_codes_left: reply.recovery_codes.length };
    showRecoveryCodes(reply);
  });
}

function disableSecondFactor() {
  const request = () => api.secondFactorDisable(value("second-factor-password"), value("second-factor-code"));
  run($("second-factor-disable"), "Turning off…", request, (reply) => {
    state.profile = { ...state.profile, second_factor: false, recovery_codes_left: 0 };
    go("profile", { say: reply.detail });
  });
}

function submitExport() {
  run($("export-submit"), "Preparing…", () => api.exportData(value("export-password")), (reply) =>
    go("profile", { say: reply.detail }),
  );
}

async function signedIn(reply) {
  state.profile = reply.profile;
  go("profile", { say: reply.detail });
  // The keychain keeps the session while the profile shows; if it could not, say so.
  let kept;
  try {
    kept = await api.sessionRemembered();
  } catch {
    return;
  }
  if (!kept.remembered && current === "profile" && state.profile === reply.profile) say(`${reply.detail} ${kept.detail}`);
}

// One function per screen's work.

function submitSignup() {
  const request = () =>
    api.requestSignup(value("signup-username"), value("signup-email"), value("signup-password"), state.signupId);
  run($("signup-submit"), "Sending code…", request, (reply) => {
    state.signupId = reply.signup_id;
    codeSent("verify-resend", reply);
    $("verify-info").textContent = outboxOrMail(reply, `Enter the code we emailed to ${reply.email}. It works for 10 minutes.`);
    go("verify", { say: reply.detail });
  });
}

function submitVerify() {
  // On too_many_attempts or code_expired the message says to sign up again; the screen stays,
  // and "Wrong address? Go back" returns to the filled-in form.
  run($("verify-submit"), "Verifying…", () => api.verifySignup(state.signupId, value("verify-code")), (reply) => {
    state.signupId = "";
    $("signup-password").value = "";
    signedIn(reply);
  });
}

function resendSignupCode() {
  run($("verify-resend"), "Sending…", () => api.resendCode(state.signupId), (reply) => {
    codeSent("verify-resend", reply);
    $("verify-code").value = "";
    say(reply.detail);
    $("verify-code").focus();
  });
}

function submitLogin() {
  run($("login-submit"), "Signing in…", () => api.login(value("login-username"), value("login-password")), signedIn);
}

function logout() {
  run($("logout"), "Signing out…", api.logout, (reply) => signedOut(reply.detail));
}

function submitForgot() {
  run($("forgot-submit"), "Sending code…", () => api.requestPasswordReset(value("forgot-email")), (reply) => {
    state.resetEmail = reply.email;
    state.resetId = reply.reset_id;
    codeSent("reset-resend", reply);
    $("reset-info").textContent =
      reply.delivery.mode === "outbox"
        ? `Mail delivery is not set up on this computer, so if an account uses ${reply.email}, its email was saved as a file in the folder named below. Open it to find your code.`
        : `If an account uses ${reply.email}, we emailed it a 6-digit code. Enter it with your new password; it works for 10 minutes.`;
    go("reset", { say: reply.detail });
  });
}

function submitReset() {
  const request = () => api.resetPassword(state.resetId, value("reset-code"), value("reset-password"));
  run($("reset-submit"), "Saving…", request, signedIn);
}

function resendResetCode() {
  run($("reset-resend"), "Sending…", () => api.resendPasswordReset(state.resetId), (reply) => {
    codeSent("reset-resend", reply);
    $("reset-code").value = "";
    say(reply.detail);
    $("reset-code").focus();
  });
}

function submitPassword() {
  const request = () => api.changePassword(value("password-current"), value("password-new"));
  run($("password-submit"), "Changing…", request, signedIn);
}

function emailCodeSent(reply) {
  state.profile = reply.profile ?? state.profile;
  codeSent("email-verify-resend", reply);
  $("email-verify-info").textContent = outboxOrMail(
    reply,
    `Enter the code we emailed to ${reply.email}. It works for 10 minutes; until then your address stays ${state.profile.email}.`,
  );
}

function submitEmail() {
  run($("email-submit"), "Sending code…", () => api.requestEmailChange(value("email-password"), value("email-new")), (reply) => {
    emailCodeSent(reply);
    go("email-verify", { say: reply.detail });
  });
}

function continueEmailChange() {
  const pending = state.profile.pending_email;
  $("email-verify-info").textContent = `Enter the code we emailed to ${pending}. Your address stays ${state.profile.email} until then.`;
  go("email-verify");
}

function submitEmailVerify() {
  run($("email-verify-submit"), "Confirming…", () => api.verifyEmailChange(value("email-verify-code")), signedIn);
}

function resendEmailCode() {
  run($("email-verify-resend"), "Sending…", api.resendEmailChange, (reply) => {
    emailCodeSent(reply);
    $("email-verify-code").value = "";
    say(reply.detail);
    $("email-verify-code").focus();
  });
}

function cancelEmailChange() {
  run($("cancel-email-change"), "Cancelling…", api.cancelEmailChange, signedIn);
}

function submitDelete() {
  run($("delete-submit"), "Deleting…", () => api.deleteAccount(value("delete-password"), value("delete-confirm")), (reply) => {
    state.profile = null;
    $("signup-form").reset();
    $("login-form").reset();
    go("signup", { say: reply.detail });
  });
}

