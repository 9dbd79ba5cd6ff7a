// The one place that talks to the Rust side. Every command resolves with
// {success: true, detail, ...data} or rejects with {success: false, code, detail}.

const invoke = window.__TAURI__?.core?.invoke;

const FALLBACK = {
  success: false,
  code: "internal",
  detail: "Something went wrong on our side. Please try again.",
};

export async function call(command, request) {
  if (!invoke) throw { ...FALLBACK, detail: "Latchkey's window is not connected to the app." };
  try {
    return await invoke(command, request === undefined ? {} : { request });
  } catch (error) {
    if (error && typeof error === "object" && typeof error.code === "string") throw error;
    throw FALLBACK;
  }
}

export const api = {
  startup: () => call("startup"),
  checkPassword: (username, email, password) => call("check_password", { username, email, password }),
  requestSignup: (username, email, password) => call("request_signup", { username, email, password }),
  resendCode: (email) => call("resend_code", { email }),
  verifySignup: (email, code) => call("verify_signup", { email, code }),
  login: (identifier, password) => call("login", { identifier, password }),
  whoami: () => call("whoami"),
  logout: () => call("logout"),
};
