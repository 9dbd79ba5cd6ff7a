// Wiring: forms submit on Enter, buttons and links move or act.

function onSubmit(formId, handler) {
  $(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
}

function onClick(id, handler) {
  $(id).addEventListener("click", (event) => {
    event.preventDefault();
    handler();
  });
}

onSubmit("signup-form", submitSignup);
onSubmit("verify-form", submitVerify);
onSubmit("login-form", submitLogin);
onSubmit("forgot-form", submitForgot);
onSubmit("reset-form", submitReset);
onSubmit("password-form", submitPassword);
onSubmit("email-form", submitEmail);
onSubmit("email-verify-form", submitEmailVerify);
onSubmit("delete-form", submitDelete);
onSubmit("export-form", submitExport);
onSubmit("login-code-form", submitLoginCode);
onSubmit("second-factor-form", submitSecondFactor);

onClick("verify-resend", resendSignupCode);
onClick("reset-resend", resendResetCode);
onClick("email-verify-resend", resendEmailCode);
onClick("logout", logout);
onClick("cancel-email-change", cancelEmailChange);
onClick("continue-email-change", continueEmailChange);

onClick("to-login", () => go("login"));
onClick("to-signup", () => go("signup"));
onClick("to-forgot", () => go("forgot"));
onClick("verify-back", () => go("signup"));
onClick("forgot-back", () => go("login"));
onClick("reset-back", () => go("login"));
onClick("to-change-password", () => go("password"));
onClick("to-change-email", () => go("email"));
onClick("to-delete-account", () => go("delete"));
onClick("to-devices", () => go("devices"));
onClick("devices-back", () => go("profile"));
onClick("to-activity", () => go("activity"));
onClick("to-export", () => go("export"));
onClick("to-second-factor", () => go("second-factor"));
onClick("second-factor-back", () => go("profile"));
onClick("second-factor-regenerate", regenerateRecoveryCodes);
onClick("second-factor-disable", disableSecondFactor);
onClick("recovery-codes-done", () => go("profile"));
onClick("login-code-back", () => go("login"));
onClick("activity-back", () => go("profile"));
onClick("activity-more", () => loadActivity(activityNext));
onClick("devices-revoke-others", revokeOtherDevices);
for (const id of ["password-cancel", "email-cancel", "email-verify-back", "delete-cancel", "export-cancel"]) {
  onClick(id, () => go("profile"));
}

for (const toggle of document.querySelectorAll(".reveal")) {
  toggle.addEventListener("click", () => reveal(toggle, toggle.getAttribute("aria-pressed") !== "true"));
}

for (const rule of Object.values(SCREENS)) {
  if (!rule.strength) continue;
  for (const id of [rule.strength.input, ...(rule.strength.also ?? [])]) $(id).addEventListener("input", updateStrength);
}

async function start() {
  try {
    const reply = await api.startup();
    if (reply.screen === "profile" && reply.profile) {
      state.profile = reply.profile;
      go("profile");
    } else if (reply.signed_out_elsewhere) {
      go("login", { say: SIGNED_OUT_ELSEWHERE, code: "signed_out_elsewhere" });
    } else {
      go(reply.screen === "signup" ? "signup" : "login");
    }
  } catch (error) {
    if (error.code === "startup_failed") {
      go("error", { say: error.detail, code: error.code });
      return;
    }
    go("login");
    fail(error);
  }
}

start();
