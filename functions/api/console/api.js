// The public HTTP API, as any client calls it: the console has no other way in.
// A bearer token, when the console holds one, goes with every call; it lives in sessionStorage (gone
// when the tab closes). How the console gets one is the deployment's to say (GET console/config.json):
// - "pkce" (AWS, AuthMode=COGNITO): the authorization code grant with PKCE, S256 (RFC 7636, "Proof Key
//   for Code Exchange by OAuth Public Clients"), at the user pool's hosted UI; the code comes back in the
//   query and is exchanged at the pool's token endpoint, the only other origin the page's CSP admits.
// - "client_credentials" (make run): the sign-in form, OAuth2 client credentials against /oauth2/token
//   on this origin.
// - "none" (AuthMode=IAM, or make run with LOCAL_AUTH=off): nothing to sign in with here.
// A token in the address's fragment (#access_token=…, the implicit grant) is never taken: the OAuth 2.0
// Security Best Current Practice (RFC 9700, section 2.1.2) says not to use that grant, and a page that
// accepted one would accept a token injected by whoever crafts the link.

const TOKEN_KEY = "ecluse.console.token";
const PENDING_KEY = "ecluse.console.sign-in"; // the PKCE verifier and state of the sign-in under way

// The API's base: /console is served beside the routes it calls (/v1/console on API Gateway).
export const base = location.pathname.replace(/console\/?$/, "");
// Where the hosted UI sends the operator back: exactly the app client's callback URL.
const redirectUri = () => location.origin + base + "console";

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

let settings = null;

/** How this deployment signs in: {sign_in, and for pkce authorize_url, token_url, client_id, scope}. */
export async function signInSettings() {
  if (!settings) {
    const answer = await fetch(base + "console/config.json", { headers: { Accept: "application/json" } });
    if (!answer.ok) throw await failure(answer);
    settings = await answer.json();
  }
  return settings;
}

async function keepToken(answer) {
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok || !body.access_token) {
    const why = body.error_description || body.error?.message || body.error || `HTTP ${answer.status}`;
    throw new ApiError(answer.status, "sign_in_failed", `sign-in refused: ${why}`);
  }
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  return true;
}

/** make run: OAuth2 client credentials from the sign-in form. */
export async function signIn(clientId, secret) {
  const answer = await fetch("/oauth2/token", {
    method: "POST",
    headers: {
      Authorization: "Basic " + btoa(`${clientId}:${secret}`),
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  return keepToken(answer);
}

const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
  .replace(/=+$/, "");
const randomText = (bytes) => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

/** PKCE: off to the hosted UI with a fresh verifier's S256 challenge and a fresh state, both kept in the tab. */
export async function startSignIn() {
  const config = await signInSettings();
  const verifier = randomText(48); // 64 characters of base64url, within RFC 7636's 43-128
  const state = randomText(16);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scope,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
    state,
  });
  location.assign(`${config.authorize_url}?${query}`);
}

/** Back from the hosted UI (?code=…&state=…, or ?error=…): the code and state leave the address bar at
 * once, the state must be the one this tab sent, then the code and verifier buy the token. */
export async function finishSignIn() {
  const query = new URLSearchParams(location.search);
  const [code, state, error] = ["code", "state", "error"].map((name) => query.get(name));
  if (!code && !error) return false;
  const why = query.get("error_description");
  for (const name of ["code", "state", "error", "error_description"]) query.delete(name);
  history.replaceState(null, "", location.pathname + (query.size ? `?${query}` : "") + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY); // one use, whatever happens
  if (error) throw new ApiError(400, "sign_in_failed", `sign-in refused: ${why || error}`);
  if (!pending || state !== pending.state) {
    throw new ApiError(400, "sign_in_state_mismatch",
      "sign-in refused: this answer does not belong to a sign-in started in this tab (its state differs); sign in again");
  }
  const config = await signInSettings();
  const answer = await fetch(config.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.client_id,
      code,
      redirect_uri: redirectUri(),
      code_verifier: pending.verifier,
    }),
  });
  return keepToken(answer);
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
