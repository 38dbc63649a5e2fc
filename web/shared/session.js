// Staff login, shared by every staff page: POST /api/login with the form's name and password.
// Returns { ok, status, data } (data: the staff member, or the error body); each page decides
// what a refusal means for it.
export async function logIn(username, password) {
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const data = await res.json().catch(() => null);
  return { ok: res.ok, status: res.status, data };
}
