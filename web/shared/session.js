// Staff login, shared by every staff page: POST /api/login with the form's name and password.
// Returns { ok, status, retryAfter, data } (data: the staff member, or the error body;
// retryAfter: the seconds a throttled login is told to wait, else null); each page decides
// what a refusal means for it.
export async function logIn(username, password) {
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const data = await res.json().catch(() => null);
  const wait = Number.parseInt(res.headers.get("Retry-After"), 10);
  return { ok: res.ok, status: res.status, retryAfter: Number.isFinite(wait) ? wait : null, data };
}
