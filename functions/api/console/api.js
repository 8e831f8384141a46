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
//
// With "pkce" the console stays signed in for a shift: it keeps the refresh token the code brings (and the
// access token's expiry) in sessionStorage too, and renews the hour-long access token at the pool's token
// endpoint shortly before it expires, or once after a 401. The app client rotates refresh tokens (RFC 9700,
// section 4.14.2): each renewal brings a new one and the one used is refused from then on, so renewals go
// one at a time (a second one in parallel would be refused, and would sign the operator out). Signing out
// revokes the refresh token and ends the hosted UI's session, not only this tab's; and it signs out every
// other tab of the console in this browser (a shared workstation): each tab holds its own tokens, so the
// tab signing out tells the others on a BroadcastChannel, and each revokes its own and empties itself.

const TOKEN_KEY = "ecluse.console.token";
const REFRESH_KEY = "ecluse.console.refresh"; // pkce: the refresh token, rotated at each renewal
const EXPIRES_KEY = "ecluse.console.expires"; // when the access token expires (ms since the epoch)
const PENDING_KEY = "ecluse.console.sign-in"; // the PKCE verifier and state of the sign-in under way
// Renew this long before the access token expires: a call never goes with a token about to lapse on the way
const RENEW_BEFORE_MS = 2 * 60 * 1000;
// How long the sign-in settings may take: signing out waits for them, and a network that hangs must not
// leave the operator waiting on a tab that is already empty
const SETTINGS_TIMEOUT_MS = 10 * 1000;
// Every tab of the console in this browser (same origin) hears what is said on it; not the sender itself,
// which each message names all the same (a listener added later on this tab must not take its own word)
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("ecluse.console") : null;
const TAB = Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join("");
const SIGNED_OUT = "signed-out";

// The API's base: /console is served beside the routes it calls (/v1/console on API Gateway).
export const base = location.pathname.replace(/console\/?$/, "");
// Where the hosted UI sends the operator back: exactly the app client's callback URL.
const redirectUri = () => location.origin + base + "console";

export class SignInNeeded extends Error {}

/** The refresh token was refused (expired after the shift's 12 hours, revoked, or used already): the
 * operator signs in again, and is told why. */
export class SessionEnded extends SignInNeeded {}

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

function forget() {
  for (const key of [TOKEN_KEY, REFRESH_KEY, EXPIRES_KEY]) sessionStorage.removeItem(key);
}

/** The refresh token of a sign-out that could not reach the pool (the settings did not load): out of the
 * tab's storage, kept in this page only, so that signing out again once the network is back revokes it. */
let unrevoked = null;

/** Sign out. With pkce: the other tabs told to sign out too, the refresh token revoked at the pool (POST
 * /oauth2/revoke, token and client_id: a public client), the tab's tokens gone, then the browser sent to the
 * pool's /logout, which ends the hosted UI's session (else the next "Sign in" would pass without password or
 * MFA) and comes back to /console. Returns what the page does next:
 * - "away": it is navigating to /logout;
 * - "unended": pkce, but the settings (revoke_url, logout_url) did not load, so neither the refresh token
 *   nor the hosted UI's session could be ended: the tab is empty all the same, and the operator is to be
 *   told (signOut again retries);
 * - "done": not pkce, the tab is empty and that is all. */
export async function signOut() {
  await renewing?.catch(() => {}); // a renewal on the way would otherwise bring a refresh token never revoked
  const refreshToken = sessionStorage.getItem(REFRESH_KEY) ?? unrevoked;
  forget(); // first: nothing in this tab renews with it while the revocation is on the way
  unrevoked = null;
  const config = await signInSettings().catch(() => null); // not loaded yet if the page opened signed in
  // pkce as the settings say or, when they did not load, as the refresh token held says (no other mode has one)
  if (config ? config.sign_in !== "pkce" : !refreshToken) return "done";
  channel?.postMessage({ kind: SIGNED_OUT, from: TAB });
  if (!config) {
    unrevoked = refreshToken;
    return "unended";
  }
  if (refreshToken) await revoke(config, refreshToken);
  location.assign(config.logout_url);
  return "away";
}

/** Best effort: the operator is leaving whatever the pool answers; unrevoked, the token is still in no tab,
 * and it ends with its 12 hours. */
async function revoke(config, refreshToken) {
  await fetch(config.revoke_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: refreshToken, client_id: config.client_id }),
  }).catch(() => {});
}

/** pkce: another tab of this browser signed out. This tab revokes its own refresh token (best effort, as
 * signOut), empties itself, and calls `then(ended)`: ended is false when the settings did not load, so the
 * refresh token could not be revoked. No /logout from here: the tab signing out goes there. A tab not signed
 * in with pkce keeps what it has. */
export function onSignOutElsewhere(then) {
  channel?.addEventListener("message", async ({ data }) => {
    if (data?.kind !== SIGNED_OUT || data.from === TAB) return;
    await renewing?.catch(() => {});
    const refreshToken = sessionStorage.getItem(REFRESH_KEY) ?? unrevoked;
    // signed in with pkce: only pkce brings a refresh token (a form's token, or none, is left alone)
    if (!refreshToken && !(token() && settings?.sign_in === "pkce")) return;
    forget(); // first, as signOut: nothing here renews with it while the settings and the revocation are on the way
    unrevoked = null;
    const config = await signInSettings().catch(() => null);
    if (config && refreshToken) await revoke(config, refreshToken);
    then(Boolean(config) || !refreshToken);
  });
}

let settings = null;

/** How this deployment signs in: {sign_in, and for pkce authorize_url, token_url, client_id, scope}. */
export async function signInSettings() {
  if (!settings) {
    const answer = await fetch(base + "console/config.json", {
      headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(SETTINGS_TIMEOUT_MS),
    });
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
  // pkce only: client credentials bring no refresh token (the form signs in again after the hour)
  if (body.refresh_token) sessionStorage.setItem(REFRESH_KEY, body.refresh_token);
  if (body.expires_in) sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + body.expires_in * 1000));
  return true;
}

let renewing = null; // the renewal on the way, which every caller waits for (one at a time: see the top)

/** A new access token (and, rotated, a new refresh token) for the refresh token held; false if none is. */
function renew() {
  if (!sessionStorage.getItem(REFRESH_KEY)) return Promise.resolve(false);
  renewing ??= renewOnce().finally(() => { renewing = null; });
  return renewing;
}

async function renewOnce() {
  const config = await signInSettings();
  const answer = await fetch(config.token_url, { // a network failure throws: tokens kept, the next call retries
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      client_id: config.client_id,
      refresh_token: sessionStorage.getItem(REFRESH_KEY),
    }),
  });
  // refused (expired, revoked or used already); not a 429, which says "later", nor a 5xx: tokens kept
  if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
    forget();
    throw new SessionEnded("Your session ended (its renewal was refused); sign in again.");
  }
  if (!answer.ok) {
    throw new ApiError(answer.status, "renewal_failed", `the sign-in's renewal failed (HTTP ${answer.status})`);
  }
  await keepToken(answer);
  return true;
}

/** Before a call: renew an access token about to expire. A network failure here is not the call's: the token
 * held still serves until it lapses, and the next call tries again. */
async function renewIfDue() {
  const expires = Number(sessionStorage.getItem(EXPIRES_KEY));
  if (!expires || expires - Date.now() > RENEW_BEFORE_MS) return;
  try {
    await renew();
  } catch (error) {
    if (error instanceof SignInNeeded) throw error;
  }
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

async function send(method, path, body, accept, retried = false) {
  await renewIfDue();
  const sent = token();
  const init = { method, headers: headers(accept ? { Accept: accept } : {}) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const answer = await fetch(base + path, init);
  if (answer.status !== 401) return answer;
  // Refused: renewed once, then the call again (safe for an action too: API Gateway's authorizer refused it
  // before the function ran). Not renewed again if another call renewed the token since this one went (its
  // 401 was for the old token); a second 401 is the API's to say: sign in.
  if (!retried && (token() !== sent || await renew())) return send(method, path, body, accept, true);
  throw new SignInNeeded();
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
