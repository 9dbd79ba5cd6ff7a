// The one place that talks to the Rust side. Every command resolves with
// {success: true, detail, ...data} or rejects with {success: false, code, detail}.

// Tauri's IPC entry point, the same function @tauri-apps/api's `invoke` forwards to. Using it
// directly spares every page load the 40 kB global API bundle (`withGlobalTauri`).
const internals = window.__TAURI_INTERNALS__;
const invoke = internals ? (command, args) => internals.invoke(command, args) : undefined;

const FALLBACK = {
  success: false,
  code: "internal",
  detail: "Something went wrong on our side. Please try again.",
};

async function call(command, request) {
  if (!invoke) throw { ...FALLBACK, detail: "Latchkey's window is not connected to the app." };
  try {
    return await invoke(command, request === undefined ? {} : { request });
  } catch (error) {
    if (error && typeof error === "object" && typeof error.code === "string") throw error;
    throw FALLBACK;
  }
}

const api = {
  startup: () => call("startup"),
  checkPassword: (username, email, password) => call("check_password", { username, email, password }),
  // `signupId`: the earlier request of this window that a new one replaces, if any.
  requestSignup: (username, email, password, signupId) =>
    call("request_signup", { username, email, password, signup_id: signupId || null }),
  resendCode: (signupId) => call("resend_code", { signup_id: signupId }),
  verifySignup: (signupId, code) => call("verify_signup", { signup_id: signupId, code }),
  login: (identifier, password) => call("login", { identifier, password }),
  logout: () => call("logout"),
  sessionRemembered: () => call("session_remembered"),
  requestPasswordReset: (email) => call("request_password_reset", { email }),
  resendPasswordReset: (resetId) => call("resend_password_reset", { reset_id: resetId }),
  resetPassword: (resetId, code, password) => call("reset_password", { reset_id: resetId, code, password }),
  changePassword: (current, next) => call("change_password", { current_password: current, new_password: next }),
  requestEmailChange: (password, email) => call("request_email_change", { password, new_email: email }),
  resendEmailChange: () => call("resend_email_change", {}),
  verifyEmailChange: (code) => call("verify_email_change", { code }),
  cancelEmailChange: () => call("cancel_email_change", {}),
  deleteAccount: (password, confirm) => call("delete_account", { password, confirm }),
  sessions: () => call("list_sessions"),
  revokeSession: (id) => call("revoke_session", { id }),
  revokeOtherSessions: () => call("revoke_other_sessions"),
  loginSecondFactor: (challenge, code) => call("login_second_factor", { challenge, code }),
  secondFactorSetup: (password) => call("second_factor_setup", { password }),
  secondFactorConfirm: (code) => call("second_factor_confirm", { code }),
  secondFactorDisable: (password, code) => call("second_factor_disable", { password, code }),
  secondFactorRecoveryCodes: (password, code) => call("second_factor_recovery_codes", { password, code }),
  exportData: (password) => call("export_data", { password }),
  activity: (before) => call("list_activity", { before: before ?? null }),
};

