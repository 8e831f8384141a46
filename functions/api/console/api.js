// The public HTTP API, as any client calls it: the console has no other way in.
// A bearer token, when the console holds one, goes with every call; it lives in sessionStorage (gone
// when the tab closes). It comes from the hosted sign-in's redirect (#access_token=…) or from the
// sign-in form (OAuth2 client credentials against /oauth2/token on this origin).

const TOKEN_KEY = "ecluse.console.token";

// The API's base: /console is served beside the routes it calls (/v1/console on API Gateway).
export const base = location.pathname.replace(/console\/?$/, "");

export class SignInNeeded extends Error {}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Keep a token handed over in the URL fragment, then take it out of the address bar. */
export function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const handed = fragment.get("access_token");
  if (!handed) return false;
  sessionStorage.setItem(TOKEN_KEY, handed);
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}

export async function signIn(clientId, secret) {
  const answer = await fetch("/oauth2/token", {
    method: "POST",
    headers: {
      Authorization: "Basic " + btoa(`${clientId}:${secret}`),
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok || !body.access_token) {
    const why = body.error_description || body.error?.message || body.error || `HTTP ${answer.status}`;
    throw new ApiError(answer.status, "sign_in_failed", `sign-in refused: ${why}`);
  }
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  return true;
}

function headers(extra) {
  const all = { Accept: "application/json", ...extra };
  const held = token();
  if (held) all.Authorization = `Bearer ${held}`;
  return all;
}

async function send(method, path, body, accept) {
  const init = { method, headers: headers(accept ? { Accept: accept } : {}) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const answer = await fetch(base + path, init);
  if (answer.status === 401) throw new SignInNeeded();
  return answer;
}

async function failure(answer) {
  const body = await answer.json().catch(() => ({}));
  const error = body.error || {};
  return new ApiError(answer.status, error.code || "http_" + answer.status, error.message || answer.statusText,
    error.details);
}

/** A JSON call; an answer that is not 2xx throws ApiError with the API's code and message. */
export async function call(method, path, body) {
  const answer = await send(method, path, body);
  if (!answer.ok) throw await failure(answer);
  return answer.status === 204 ? null : answer.json();
}

/** A declaration's fallback document as a PDF file the browser saves. */
export async function downloadFallbackPdf(lrn) {
  const answer = await send("GET", `declarations/${encodeURIComponent(lrn)}/fallback-document?format=pdf`,
    undefined, "application/pdf");
  if (!answer.ok) throw await failure(answer);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await answer.blob());
  link.download = `fallback-${lrn}.pdf`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
